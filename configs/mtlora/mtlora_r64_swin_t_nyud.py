# MTLoRA r = 64 on a frozen ImageNet-1k Swin-T, NYUD-v2 (semseg, depth,
# normals), 448x448; decoders over the merged stage outputs.
_base_ = ['../_base_/nyud_swin_t.py', '../_base_/models/lora_methods.py']
model = dict(backbone=dict(_base_.mtlora, rank=64, module=dict(
    _base_.pretrained_swin_t, out_after_downsample=True)))
