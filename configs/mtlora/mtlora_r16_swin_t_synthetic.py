# MTLoRA r = 16 on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU.
_base_ = ['../_base_/synthetic_swin_t.py',
          '../_base_/models/lora_methods.py']
model = dict(backbone=dict(_base_.mtlora, module=dict(
    _base_.synthetic_swin_t, out_after_downsample=True)))
