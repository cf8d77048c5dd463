"""Baselines that add nothing to the backbone and only choose what of it
trains (``docs/en/methods/bias_tuning.md``):

* ``BitFit`` (Ben Zaken et al., ACL 2022): every bias term, those of the
  linear layers, the patch-embedding convolution and the LayerNorms
  (BitFit tunes all bias terms, LayerNorm biases included); parameter names
  ending in ``.bias``, so Swin's ``relative_position_bias_table`` (which a
  bare ``bias`` pattern would match) stays frozen;
* ``RelPosBiasTuning``: only Swin's relative-position bias tables;
* ``DecoderOnly``: the backbone fully frozen; only the decoders train.

The backbone runs once for all tasks and returns its list of stage
features. Other parameters can be added with the ``trainable`` argument.
"""
from typing import Sequence

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone

#: every bias term (``re.search`` over parameter names).
BIAS_PATTERN = r'\.bias$'


class FrozenBackboneMethod(AdaptedBackbone):
    """A backbone wrapper without adapters: the backbone is frozen except
    :meth:`method_trainable` and the ``trainable`` patterns.

    Args:
        module: backbone config.
        tasks: task names (injected by the segmentor).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    def insert_adapters(self) -> None:
        """Nothing is attached."""


@MODELS.register_module()
class BitFit(FrozenBackboneMethod):
    """Only the backbone's bias terms (names ending in ``.bias``) train."""

    def method_trainable(self) -> Sequence[str]:
        return tuple(super().method_trainable()) + (BIAS_PATTERN, )


@MODELS.register_module()
class RelPosBiasTuning(FrozenBackboneMethod):
    """Only the relative-position bias tables train (the backbone support's
    ``relative_position`` group)."""

    trainable_groups = ('relative_position', )


@MODELS.register_module()
class DecoderOnly(FrozenBackboneMethod):
    """Nothing of the backbone trains; only the task decoders do."""
