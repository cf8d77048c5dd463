# Hyperformer on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU. One hypernetwork per stage width
# (Hyperformer++ style, the class default) with a smaller projector, so
# that checkpoints stay small; the PASCAL config has the benchmark's
# per-adapter hypernetworks (70.8 M parameters).
_base_ = ['../_base_/synthetic_swin_t.py']
hyperformer = dict(type='Hyperformer', hypernets='stage', reduction=8,
                   embed_dim=32, hidden_dim=64, proj_dim=32, norm=False)
model = dict(backbone=dict(hyperformer, module=dict(
    _base_.synthetic_swin_t, out_after_downsample=True)))
