# Hyperformer (Karimi Mahabadi et al., ACL 2021, arXiv:2106.04489) on a
# frozen ImageNet-1k Swin-T, PASCAL-Context, 448x448, as the Polyhistor
# benchmark (Liu et al., NeurIPS 2022, arXiv:2210.03265) counts it
# (docs/en/methods/hyperformer.md): hypernetwork-generated Houlsby adapters
# after the attention and after the MLP of every block (reduction 8), one
# hypernetwork per adapter, task / layer / position embeddings of 64, task
# projector 192 -> 128 -> 64, backbone layer norms trainable, stage outputs
# after the patch merging and one fusion decoder per task (the MTLoRA /
# TADFormer benchmark setting), the four task streams batched through the
# backbone. 72,737,616 trainable with the decoders: 70,767,760 hypernetwork
# + 23,232 layer norms + 1,946,624 decoders (published 72.77 M).
_base_ = ['../_base_/pascal_context_swin_t.py']
hyperformer = dict(type='Hyperformer', hypernets='adapter', reduction=8,
                   embed_dim=64, hidden_dim=128, proj_dim=64, norm=False)
model = dict(backbone=dict(hyperformer, module=dict(
    _base_.pretrained_swin_t, out_after_downsample=True)))
