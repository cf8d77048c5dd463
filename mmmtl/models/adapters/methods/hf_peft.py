"""HF PEFT as a backend: any tuner of the ``peft`` library (VeRA, LoHa, OFT,
IA3, LoRA, ...) injected into the wrapped backbone as one adapter shared by
every task (``docs/en/methods/hf_peft.md``).

``peft_config=dict(type='VeraConfig', r=..., target_modules=...)`` names a
config class exported by ``peft``; the rest are its arguments. The tuner
replaces the target layers in place (``peft.inject_adapter_in_model``, or
the tuner class itself for tuners whose state is shared between layers,
e.g. VeRA's random projections, which ``inject_adapter_in_model``
refuses); no ``PeftModel`` wrapper is built. What trains is what PEFT marks
trainable, so counts equal PEFT's own.

State-dict keys stay those of the plain backbone: PEFT keeps a wrapped
layer as ``<layer>.base_layer``; hooks on every wrapped layer drop
``base_layer.`` from saved keys and add it to loaded ones, so plain
pretrained checkpoints load, and saved checkpoints hold the plain keys plus
the adapter keys (e.g. ``<layer>.vera_lambda_b.default``). The backbone's
own ``init_weights`` (pretrained loading, mmseg's from-scratch init) runs
with the PEFT layers taken out, so it sees the plain backbone and leaves
the adapters as PEFT initialised them.
"""
import re
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.model import initialize
from torch import nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone

#: target_modules examples named in the errors.
TARGET_EXAMPLES = ("Swin (mmseg): target_modules=r'.*\\.attn\\.w_msa\\."
                   "(qkv|proj)'; timm ViT: target_modules="
                   "r'.*\\.attn\\.(qkv|proj)'")
BASE_LAYER = 'base_layer.'


def import_peft():
    """The ``peft`` module, or an ImportError saying how to install it."""
    try:
        import peft
    except ImportError as exc:
        raise ImportError(
            'HFPEFTAdapter needs the HF PEFT library: pip install peft') \
            from exc
    return peft


def peft_config_names(peft) -> List[str]:
    """Names of the config classes ``peft`` exports (``...Config``)."""
    base = peft.PeftConfig
    return sorted(n for n in dir(peft) if n.endswith('Config')
                  and isinstance(getattr(peft, n), type)
                  and issubclass(getattr(peft, n), base) and n != 'PeftConfig')


def build_peft_config(cfg: dict):
    """The PEFT config object of ``cfg`` (``type``: a class name exported by
    ``peft``; the rest: its arguments).

    Raises:
        ValueError: no or an unknown ``type`` (listing the known ones), or
            no ``target_modules``.
    """
    peft = import_peft()
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f"peft_config must be dict(type='<peft config "
                         f"class>', ...), got {cfg!r}")
    args = dict(cfg)
    name = args.pop('type')
    known = peft_config_names(peft)
    cls = getattr(peft, name, None) if isinstance(name, str) else None
    if name not in known or cls is None:
        raise ValueError(f'unknown peft_config type {name!r}; peft '
                         f'{peft.__version__} exports: {", ".join(known)}')
    if args.get('target_modules') is None:
        raise ValueError(
            f'peft_config {name} needs target_modules (a regex fully '
            f'matching module names of the wrapped backbone, or a list of '
            f'name suffixes), e.g. {TARGET_EXAMPLES}')
    return cls(**args)


def _drop_base_layer(module: nn.Module, state_dict: Dict, prefix: str,
                     local_metadata: Dict) -> None:
    """Saved keys ``<prefix>base_layer.<rest>`` -> ``<prefix><rest>``."""
    inner = prefix + BASE_LAYER
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner):]] = state_dict.pop(key)


class _AddBaseLayer:
    """Load pre-hook: keys ``<prefix><rest>`` of the base layer's own
    entries -> ``<prefix>base_layer.<rest>`` (keys already carrying
    ``base_layer.`` load unchanged)."""

    def __init__(self, base_keys: Sequence[str]):
        self.base_keys = tuple(base_keys)

    def __call__(self, module: nn.Module, state_dict: Dict, prefix: str,
                 local_metadata: Dict, strict: bool, missing_keys: List,
                 unexpected_keys: List, error_msgs: List) -> None:
        for rest in self.base_keys:
            plain, wrapped = prefix + rest, prefix + BASE_LAYER + rest
            if plain in state_dict and wrapped not in state_dict:
                state_dict[wrapped] = state_dict.pop(plain)


@MODELS.register_module()
class HFPEFTAdapter(AdaptedBackbone):
    """A HF PEFT tuner on the frozen backbone, shared by all tasks.

    Args:
        module: config of any registered backbone (mmseg Swin /
            ``SwinTransformerMTL``, ``TimmMultiScaleBackbone``, ...).
        tasks: task names (injected by the segmentor; the adapter is
            shared).
        peft_config: ``dict(type=<config class exported by peft>, **args)``,
            e.g. ``dict(type='VeraConfig', r=16,
            target_modules=r'.*\\.attn\\.w_msa\\.(qkv|proj)')``;
            ``target_modules`` is required (PEFT: a regex string fully
            matching module names of the wrapped backbone, or a list of
            name suffixes).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.

    Attributes:
        peft_config: the PEFT config object.
        peft_layers: qualified names of the layers PEFT wrapped.
    """

    def __init__(self, module: dict, tasks: Sequence[str], peft_config: dict,
                 trainable: Sequence[str] = (),
                 init_cfg: Optional[dict] = None):
        self.peft_config = build_peft_config(peft_config)
        self.peft_layers: List[str] = []
        self._peft_trainable: List[str] = []
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def insert_adapters(self) -> None:
        """Inject the PEFT tuner into the wrapped backbone in place."""
        peft = import_peft()
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.mapping import PEFT_TYPE_TO_TUNER_MAPPING
        tuner = PEFT_TYPE_TO_TUNER_MAPPING.get(self.peft_config.peft_type)
        if tuner is not None and getattr(tuner, 'uses_shared_state', False):
            # inject_adapter_in_model refuses these; the tuner injects the
            # same layers, which keep references to the shared state.
            model = tuner(self.module, self.peft_config,
                          adapter_name='default').model
        else:
            model = peft.inject_adapter_in_model(self.peft_config,
                                                 self.module)
        if model is not self.module:
            raise RuntimeError('peft did not adapt the backbone in place')
        for name, layer in self.module.named_modules():
            if not isinstance(layer, BaseTunerLayer) or any(
                    name.startswith(outer + '.')
                    for outer in self.peft_layers):
                continue
            self.peft_layers.append(name)
            base_keys = list(layer.get_base_layer().state_dict())
            layer.register_state_dict_post_hook(_drop_base_layer)
            layer.register_load_state_dict_pre_hook(_AddBaseLayer(base_keys))
        if not self.peft_layers:
            raise ValueError(
                f'{type(self.peft_config).__name__} adapted no layer of '
                f'{type(self.module).__name__}; check target_modules, e.g. '
                f'{TARGET_EXAMPLES}')
        self._peft_trainable = [n for n, p in self.module.named_parameters()
                                if p.requires_grad]

    def method_trainable(self) -> Sequence[str]:
        """The parameters PEFT marked trainable, and those the backbone's
        family adds that no checkpoint holds (e.g. a ViT's pyramid)."""
        return tuple(super().method_trainable()) + tuple(
            f'^{re.escape(n)}$' for n in self._peft_trainable)

    def injected_parameters(self) -> List[nn.Parameter]:
        """The tuner's own parameters, inside the wrapped backbone (not its
        base layers'): parameter reports count them as adapters."""
        params = []
        for name in self.peft_layers:
            layer = self.module.get_submodule(name)
            base = {id(p) for p in layer.get_base_layer().parameters()}
            params += [p for p in layer.parameters() if id(p) not in base]
        return params

    def _layer_slots(self) -> Iterator[Tuple[nn.Module, str, nn.Module]]:
        """``(parent, attribute, peft layer)`` of every wrapped layer."""
        for name in self.peft_layers:
            parent_name, _, attr = name.rpartition('.')
            parent = self.module.get_submodule(parent_name)
            yield parent, attr, getattr(parent, attr)

    @contextmanager
    def plain_backbone(self):
        """Inside: the wrapped backbone without the PEFT layers (their base
        layers back in place, the same modules, so weights loaded into them
        stay); the PEFT layers are put back on exit."""
        slots = list(self._layer_slots())
        for parent, attr, layer in slots:
            setattr(parent, attr, layer.get_base_layer())
        try:
            yield self.module
        finally:
            for parent, attr, layer in slots:
                setattr(parent, attr, layer)

    def init_weights(self) -> None:
        """The backbone's own init on the plain backbone (e.g. its
        pretrained checkpoint; the adapters keep PEFT's init), then the
        wrapper's ``init_cfg``."""
        if hasattr(self.module, 'init_weights'):
            with self.plain_backbone():
                self.module.init_weights()
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    def remove_adapters(self) -> nn.Module:
        """Take the PEFT layers out (their base layers back in place) and
        return the plain wrapped backbone."""
        for parent, attr, layer in list(self._layer_slots()):
            setattr(parent, attr, layer.get_base_layer())
        self.peft_layers = []
        return super().remove_adapters()

    def merge_adapters(self) -> nn.Module:
        """Fold every PEFT layer into its base layer (PEFT's ``merge``) and
        return the plain wrapped backbone."""
        for _, _, layer in self._layer_slots():
            layer.merge()
        return self.remove_adapters()
