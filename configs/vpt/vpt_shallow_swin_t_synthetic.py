# VPT-shallow on a frozen, randomly initialised Swin-T, synthetic dataset
# (128x128, 5 tasks): minutes on CPU. P = 10 prompts carried through the
# network (docs/en/methods/vpt.md).
_base_ = ['../_base_/synthetic_swin_t.py']
vpt = dict(type='VPT', depth='shallow', num_prompts=10, dropout=0.0,
           lift_at_merging=True)
model = dict(backbone=dict(vpt, module=dict(_base_.synthetic_swin_t,
                                            out_after_downsample=True)))
