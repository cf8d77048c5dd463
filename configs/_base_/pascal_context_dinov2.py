# The PASCAL-Context multi-task experiment of pascal_context_swin_t.py with
# the DINOv2 ViT bases available to leaves. No single-task baselines are
# published for these backbones: Δm is reported once you set
# val_evaluator.baselines to your own single-task results
# (docs/en/metrics.md); until then the best checkpoint is the one of the
# best semantic-segmentation mIoU.
_base_ = ['./pascal_context_swin_t.py', './models/dinov2_vit.py']
val_evaluator = dict(baselines=None)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='semseg/mIoU'))
