"""Models: segmentor, backbones, adapters, heads, losses, preprocessor."""
import mmseg.models  # noqa: F401  (parent registry: mmseg's components)

from .adapters import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
