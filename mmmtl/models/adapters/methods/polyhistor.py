"""Polyhistor and Polyhistor-Lite (Liu et al., NeurIPS 2022), as the mmmtl
specification in ``docs/en/methods/polyhistor.md`` (no code was released).

Every block l gets, per task t, a bottleneck adapter parallel to its MLP,
with input u = LN2(x) (B, L, d_l)::

    a_{t,l}(u) = s * GELU(u D_{t,l}) U_{t,l}     D (d_l, k), U (k, d_l)

whose weights are generated, not learned directly:

* **Decomposed hypernetworks**: task embeddings e_t and layer embeddings
  e_l are projected to a joint embedding z_{t,l} = ReLU(P [e_t; e_l]); two
  hypernetworks map it to the down and the up *template* kernels,
  H_down(z) (w, k) and H_up(z) (k, w);
* **Layer-wise scaling kernels**: a learned S_l (m_l,) with m_l = d_l / w
  expands the templates to the layer's width by Kronecker products,
  D = S_l ⊗ H_down(z) (column vector S_l), U = S_l^T ⊗ H_up(z).

``templates='stage'`` (Polyhistor): one pair of hypernetwork heads per
stage with templates of the stage's width (m_l = 1, no scaling kernel).
``templates='shared'`` (Polyhistor-Lite): one pair of heads for all stages,
templates of the smallest width, scaled up per layer.

The adapters are task-specific in every block, so the whole backbone runs
once per task: the T task streams batched along the batch axis (a region
from the first block to the end, without a shared stream), each adapter
applying its task's generated weights with one batched matmul. The kernels
are generated once per forward for all (task, layer) pairs, and reused
across forwards in inference while the hypernetwork is unchanged.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .generated import (GeneratedAdapter, GeneratedAdapterMethod,
                        KernelGenerator)

TEMPLATES = ('stage', 'shared')
KERNELS = 'polyhistor_kernels'
Kernels = List[Tuple[Tensor, Tensor]]


class PolyhistorHyperNetwork(KernelGenerator):
    """Task / layer embeddings, joint projection, decomposed hypernetworks
    and layer-wise scaling kernels; generates every adapter's weights
    (cached in inference while the parameters are unchanged).

    Args:
        num_tasks: T.
        widths: d_l of every adapted layer, in layer order.
        stages: the stage of every layer.
        bottleneck: k.
        embed_dim: size of e_t and e_l.
        hyper_dim: size of the joint embedding z.
        templates: ``'stage'`` or ``'shared'`` (module docstring).
    """

    cache_in_inference = True

    def __init__(self, num_tasks: int, widths: Sequence[int],
                 stages: Sequence[int], bottleneck: int, embed_dim: int,
                 hyper_dim: int, templates: str):
        super().__init__()
        if templates not in TEMPLATES:
            raise ValueError(f'templates {templates!r} is not one of '
                             f'{TEMPLATES}')
        self.widths, self.bottleneck = list(widths), bottleneck
        if templates == 'shared':
            self.groups = [0] * len(widths)
            self.template_widths = [min(widths)]
        else:
            self.groups = list(stages)
            self.template_widths = [
                widths[list(stages).index(s)] for s in sorted(set(stages))]
        for width, group in zip(widths, self.groups):
            if width % self.template_widths[group]:
                raise ValueError(
                    f'layer width {width} is not a multiple of its template '
                    f'width {self.template_widths[group]}')
        self.task_embed = nn.Parameter(torch.empty(num_tasks, embed_dim))
        self.layer_embed = nn.Parameter(torch.empty(len(widths), embed_dim))
        self.project = nn.Linear(2 * embed_dim, hyper_dim)
        self.down_heads = nn.ModuleList(
            nn.Linear(hyper_dim, w * bottleneck)
            for w in self.template_widths)
        self.up_heads = nn.ModuleList(
            nn.Linear(hyper_dim, bottleneck * w)
            for w in self.template_widths)
        self.scaling = nn.ParameterDict({
            str(layer): nn.Parameter(torch.empty(m))
            for layer, m in enumerate(self.multiples()) if m > 1})
        self.reset_parameters()

    def multiples(self) -> List[int]:
        """m_l = d_l / template width for every layer."""
        return [w // self.template_widths[g]
                for w, g in zip(self.widths, self.groups)]

    def reset_parameters(self) -> None:
        """Embeddings N(0, 0.02^2); projection and down heads PyTorch's
        Linear init; up heads zero (every adapter starts at 0); scaling
        kernels ones."""
        nn.init.normal_(self.task_embed, std=0.02)
        nn.init.normal_(self.layer_embed, std=0.02)
        self.project.reset_parameters()
        for head in self.down_heads:
            head.reset_parameters()
        for head in self.up_heads:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        for kernel in self.scaling.values():
            nn.init.ones_(kernel)

    def joint_embedding(self) -> Tensor:
        """z_{t,l}: (T, L, hyper_dim)."""
        num_tasks, num_layers = len(self.task_embed), len(self.layer_embed)
        pairs = torch.cat([
            self.task_embed[:, None].expand(-1, num_layers, -1),
            self.layer_embed[None].expand(num_tasks, -1, -1)
        ], dim=-1)
        return F.relu(self.project(pairs))

    def generate(self) -> Kernels:
        """Every layer's (D (T, d_l, k), U (T, k, d_l))."""
        z = self.joint_embedding()
        num_tasks, k = z.shape[0], self.bottleneck
        kernels = []
        for layer, (group, m) in enumerate(zip(self.groups,
                                               self.multiples())):
            width = self.template_widths[group]
            down = self.down_heads[group](z[:, layer]).view(
                num_tasks, width, k)
            up = self.up_heads[group](z[:, layer]).view(num_tasks, k, width)
            if m > 1:
                scale = self.scaling[str(layer)]
                down = (scale[None, :, None, None] * down[:, None]).reshape(
                    num_tasks, m * width, k)
                up = (scale[None, None, :, None] * up[:, :, None]).reshape(
                    num_tasks, k, m * width)
            kernels.append((down, up))
        return kernels

    def extra_repr(self) -> str:
        return (f'layers={len(self.widths)}, k={self.bottleneck}, '
                f'templates={self.template_widths}')


class PolyhistorAdapter(GeneratedAdapter):
    """The adapter of layer ``layer``: applies each task stream's generated
    weights (from the context) to its stream, one batched matmul.

    Args:
        layer: index into the hypernetwork's layers.
        scale: s.
    """

    index_name = 'layer'

    def __init__(self, layer: int, scale: float = 1.0):
        super().__init__(KERNELS, layer)
        self.scale = scale

    def forward(self, u: Tensor) -> Tensor:
        """u: stacked task streams (T * B, L, d) -> (T * B, L, d)."""
        (down, up), flat = self.kernels(u)
        out = F.gelu(flat @ down) @ up
        return self.scale * out.view_as(u)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, scale={self.scale}'


@MODELS.register_module()
class Polyhistor(GeneratedAdapterMethod):
    """Polyhistor: hypernetwork-generated task adapters in every block.

    Args:
        module: backbone config (mmseg Swin).
        tasks: task names.
        bottleneck: k.
        embed_dim: size of the task and layer embeddings.
        hyper_dim: size of the joint embedding.
        scale: s.
        templates: ``'stage'`` (per-stage templates) or ``'shared'``.
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    default_templates = 'stage'
    kernels_key = KERNELS
    adapter_mode = 'parallel'

    def __init__(self, module: dict, tasks: Sequence[str],
                 bottleneck: int = 32, embed_dim: int = 64,
                 hyper_dim: int = 64, scale: float = 1.0,
                 templates: str = None, trainable: Sequence[str] = (),
                 init_cfg: dict = None):
        self.bottleneck, self.scale = bottleneck, scale
        self.embed_dim, self.hyper_dim = embed_dim, hyper_dim
        self.templates = templates or self.default_templates
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def build_generated(self, support):
        """The hypernetwork and an adapter parallel to every MLP."""
        sites = support.mlp_sites()
        stages = [stage for stage, _ in sites]
        hyper = PolyhistorHyperNetwork(
            len(self.tasks), [support.channels(s) for s in stages], stages,
            self.bottleneck, self.embed_dim, self.hyper_dim, self.templates)
        return hyper, [(name, PolyhistorAdapter(layer, self.scale))
                       for layer, (_, name) in enumerate(sites)]


@MODELS.register_module()
class PolyhistorLite(Polyhistor):
    """Polyhistor-Lite: one template size for all stages, scaled up to each
    layer's width by the layer-wise scaling kernels."""

    default_templates = 'shared'
