"""mmmtl.models.heads: dense task heads (any kind, any channels)."""
from .conv_task_head import ConvTaskHead
from .dense_task_head import DenseTaskHead
from .multi_scale_fusion_head import MultiScaleFusionHead

__all__ = ['DenseTaskHead', 'ConvTaskHead', 'MultiScaleFusionHead']
