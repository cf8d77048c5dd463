# Multi-task full fine-tuning of a randomly initialised Swin-T on the
# synthetic dataset (128x128, 5 tasks): minutes on CPU.
_base_ = ['../_base_/synthetic_swin_t.py']
model = dict(backbone=_base_.synthetic_swin_t)
