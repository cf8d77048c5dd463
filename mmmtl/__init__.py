"""mmmtl: parameter-efficient multi-task dense prediction."""
from .compat import apply_all as _apply_compat

_apply_compat()

__version__ = '0.1.0'

__all__ = ['__version__']
