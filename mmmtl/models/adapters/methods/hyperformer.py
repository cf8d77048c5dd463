"""Hyperformer (Karimi Mahabadi et al., ACL 2021) on a hierarchical Swin, as
the mmmtl specification in ``docs/en/methods/hyperformer.md`` (the released
code, https://github.com/rabeehk/hyperformer, targets T5).

Every block gets, per task t, two Houlsby adapters inside its residual
branches, on the output y of the attention projection (``proj``) and of
the MLP (``fc2``), tokens (..., d)::

    y <- y + LN_{g,b}(GELU(y D + b_D) U + b_U)     D (d, k), U (k, d)

with k = d / r and a LayerNorm whose scale g and shift b are generated too
(``norm=False`` drops it). Every adapter weight is generated:

* **Task projector**: task embedding z_t, layer-id embedding l_i and
  adapter-position embedding p_j (attention / MLP) give the adapter's
  embedding I = LN(MLP([z_t; l_i; p_j])) (two linear layers, ReLU);
* **Hypernetworks**: linear heads map I to D, b_D, U, b_U, g and b.
  ``hypernets='stage'`` (Hyperformer++): one set of heads per Swin stage
  (each stage has its own width), shared by the stage's blocks, both
  positions and all tasks; ``hypernets='adapter'`` (Hyperformer): one set
  per adapter, shared by the tasks.

The adapters are task-specific in every block, so the whole backbone runs
once per task: the T task streams batched along the batch axis (a region
from the first block to the end, without a shared stream), each adapter
applying its task's generated weights with batched matmuls. All weights
are generated once per forward.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmtl.registry import MODELS
from .generated import (GeneratedAdapter, GeneratedAdapterMethod,
                        KernelGenerator)

HYPERNETS = ('stage', 'adapter')
#: roles of the linear layers an adapter follows, in position-id order:
#: the attention projection, the MLP's second linear layer.
POSITIONS = ('proj', 'fc2')
KERNELS = 'hyperformer_kernels'
#: init std of the generating layers (the released code's weight range)
INIT_STD = 1e-2


class AdapterWeights(NamedTuple):
    """One adapter's generated weights, each with a leading task axis T
    (or (T, n) straight from a generator)."""

    down: Tensor  # (T, d, k)
    down_bias: Tensor  # (T, k)
    up: Tensor  # (T, k, d)
    up_bias: Tensor  # (T, d)
    gamma: Optional[Tensor]  # (T, d), None without the norm
    beta: Optional[Tensor]  # (T, d), None without the norm


def houlsby_sites(support) -> List[Tuple[int, int, int, str]]:
    """``[(stage, layer, position, module name)]`` of the two adapters of
    every block, in block order: position 0 follows the attention
    projection, 1 the MLP (``POSITIONS``); layer is the block's index over
    the whole backbone."""
    return [(stage, layer, position, support.linear(block, role))
            for layer, (stage, block) in enumerate(support.blocks())
            for position, role in enumerate(POSITIONS)]


class AdapterGenerator(nn.Module):
    """Linear heads from an adapter embedding I (P,) to the weights of an
    adapter of width d and bottleneck k.

    Args:
        proj_dim: P.
        width: d.
        bottleneck: k.
        norm: whether to generate the LayerNorm's scale and shift.
    """

    def __init__(self, proj_dim: int, width: int, bottleneck: int,
                 norm: bool):
        super().__init__()
        self.width, self.bottleneck = width, bottleneck
        self.down = nn.Linear(proj_dim, width * bottleneck)
        self.down_bias = nn.Linear(proj_dim, bottleneck)
        self.up = nn.Linear(proj_dim, bottleneck * width)
        self.up_bias = nn.Linear(proj_dim, width)
        self.gamma = nn.Linear(proj_dim, width) if norm else None
        self.beta = nn.Linear(proj_dim, width) if norm else None

    def reset_parameters(self) -> None:
        """Weights N(0, 0.01^2), biases zero (the released code); the heads
        that make every adapter output 0 are zero: the norm's scale and
        shift with the norm, else U and b_U."""
        for head in (self.down, self.down_bias, self.up, self.up_bias,
                     self.gamma, self.beta):
            if head is not None:
                nn.init.normal_(head.weight, std=INIT_STD)
                nn.init.zeros_(head.bias)
        zero = ((self.gamma, self.beta) if self.gamma is not None else
                (self.up, self.up_bias))
        for head in zero:
            nn.init.zeros_(head.weight)

    def forward(self, embedding: Tensor) -> AdapterWeights:
        """embedding (..., P) -> weights with leading dims (...)."""
        lead = embedding.shape[:-1]
        width, k = self.width, self.bottleneck
        norm = self.gamma is not None
        return AdapterWeights(
            self.down(embedding).view(*lead, width, k),
            self.down_bias(embedding),
            self.up(embedding).view(*lead, k, width),
            self.up_bias(embedding),
            self.gamma(embedding) if norm else None,
            self.beta(embedding) if norm else None)

    def extra_repr(self) -> str:
        return f'd={self.width}, k={self.bottleneck}'


class HyperformerHyperNetwork(KernelGenerator):
    """Task, layer-id and position embeddings, the task projector and the
    hypernetwork heads; generates every (task, adapter) weight.

    Args:
        num_tasks: T.
        sites: ``(stage, layer, position)`` of every adapter.
        widths: d of every adapter.
        reduction: r, k = d / r.
        embed_dim: E, size of z_t, l_i and p_j.
        hidden_dim: H, hidden size of the task projector.
        proj_dim: P, size of the adapter embedding I.
        hypernets: ``'stage'`` or ``'adapter'`` (module docstring).
        norm: whether the adapters have the generated LayerNorm.
    """

    def __init__(self, num_tasks: int, sites: Sequence[Tuple[int, int, int]],
                 widths: Sequence[int], reduction: int, embed_dim: int,
                 hidden_dim: int, proj_dim: int, hypernets: str, norm: bool):
        super().__init__()
        if hypernets not in HYPERNETS:
            raise ValueError(f'hypernets {hypernets!r} is not one of '
                             f'{HYPERNETS}')
        bad = sorted({w for w in widths if w % reduction})
        if bad:
            raise ValueError(f'adapter widths {bad} are not multiples of the '
                             f'reduction factor {reduction}')
        stages, layers, positions = zip(*sites)
        keys = stages if hypernets == 'stage' else range(len(sites))
        order = sorted(set(keys))
        self.members = [[i for i, key in enumerate(keys) if key == group]
                        for group in order]
        self.generators = nn.ModuleList(
            AdapterGenerator(proj_dim, widths[members[0]],
                             widths[members[0]] // reduction, norm)
            for members in self.members)
        self.register_buffer('layer_ids', torch.tensor(layers),
                             persistent=False)
        self.register_buffer('position_ids', torch.tensor(positions),
                             persistent=False)
        self.task_embed = nn.Parameter(torch.empty(num_tasks, embed_dim))
        self.layer_embed = nn.Parameter(torch.empty(max(layers) + 1,
                                                    embed_dim))
        self.position_embed = nn.Parameter(torch.empty(len(POSITIONS),
                                                       embed_dim))
        self.projector = nn.Sequential(
            nn.Linear(3 * embed_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, proj_dim))
        self.projector_norm = nn.LayerNorm(proj_dim, eps=1e-6)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Embeddings N(0, 1) (the released code's task and layer-id
        embeddings); projector weights N(0, 0.01^2), biases zero; the
        heads as :meth:`AdapterGenerator.reset_parameters`."""
        for embedding in (self.task_embed, self.layer_embed,
                          self.position_embed):
            nn.init.normal_(embedding)
        for layer in (self.projector[0], self.projector[2]):
            nn.init.normal_(layer.weight, std=INIT_STD)
            nn.init.zeros_(layer.bias)
        self.projector_norm.reset_parameters()
        for generator in self.generators:
            generator.reset_parameters()

    def adapter_embedding(self) -> Tensor:
        """I of every (task, adapter): (T, N, P)."""
        num_tasks, num_sites = len(self.task_embed), len(self.layer_ids)
        inputs = torch.cat([
            self.task_embed[:, None].expand(-1, num_sites, -1),
            self.layer_embed[self.layer_ids][None].expand(num_tasks, -1, -1),
            self.position_embed[self.position_ids][None].expand(
                num_tasks, -1, -1)
        ], dim=-1)
        return self.projector_norm(self.projector(inputs))

    def generate(self) -> List[AdapterWeights]:
        """Every adapter's weights (leading axis T), in site order."""
        embedding = self.adapter_embedding()
        weights: List[Optional[AdapterWeights]] = [None] * len(
            self.layer_ids)
        for generator, members in zip(self.generators, self.members):
            generated = generator(embedding[:, members])
            for i, site in enumerate(members):
                weights[site] = AdapterWeights(
                    *(None if w is None else w[:, i] for w in generated))
        return weights

    def extra_repr(self) -> str:
        return (f'adapters={len(self.layer_ids)}, '
                f'hypernets={len(self.generators)}')


class HyperformerAdapter(GeneratedAdapter):
    """The adapter at site ``site``: applies each task stream's generated
    weights (from the context) to its stream, batched matmuls.

    Args:
        site: index into the hypernetwork's adapters.
    """

    def __init__(self, site: int):
        super().__init__(KERNELS, site)

    def forward(self, y: Tensor) -> Tensor:
        """y: stacked task streams (T * M, ..., d) -> same shape."""
        w, flat = self.kernels(y)
        hidden = F.gelu(torch.baddbmm(w.down_bias[:, None], flat, w.down),
                        approximate='tanh')
        out = torch.baddbmm(w.up_bias[:, None], hidden, w.up)
        if w.gamma is not None:
            out = (F.layer_norm(out, out.shape[-1:]) * w.gamma[:, None] +
                   w.beta[:, None])
        return y + out.view_as(y)


@MODELS.register_module()
class Hyperformer(GeneratedAdapterMethod):
    """Hyperformer: hypernetwork-generated Houlsby adapters per task.

    Args:
        module: backbone config (mmseg Swin).
        tasks: task names.
        reduction: r, bottleneck k = d / r of every adapter.
        embed_dim: E, size of the task, layer-id and position embeddings.
        hidden_dim: H, hidden size of the task projector.
        proj_dim: P, size of the adapter embedding I.
        hypernets: ``'stage'`` (Hyperformer++ sharing within each stage
            width) or ``'adapter'`` (one hypernetwork per adapter).
        norm: generated LayerNorm at the adapter's output.
        trainable_groups: backbone parameter groups left trainable
            (Hyperformer trains the backbone's layer norms).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    kernels_key = KERNELS
    adapter_mode = 'sequential'

    def __init__(self, module: dict, tasks: Sequence[str],
                 reduction: int = 32, embed_dim: int = 64,
                 hidden_dim: int = 128, proj_dim: int = 64,
                 hypernets: str = 'stage', norm: bool = True,
                 trainable_groups: Sequence[str] = ('norms', ),
                 trainable: Sequence[str] = (), init_cfg: dict = None):
        self.reduction, self.embed_dim = reduction, embed_dim
        self.hidden_dim, self.proj_dim = hidden_dim, proj_dim
        self.hypernets, self.norm = hypernets, norm
        self.trainable_groups = tuple(trainable_groups)
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def build_generated(self, support):
        """The hypernetwork and a sequential adapter after every attention
        projection and MLP."""
        sites = houlsby_sites(support)
        hyper = HyperformerHyperNetwork(
            len(self.tasks), [site[:3] for site in sites],
            [support.channels(site[0]) for site in sites], self.reduction,
            self.embed_dim, self.hidden_dim, self.proj_dim, self.hypernets,
            self.norm)
        return hyper, [(site[3], HyperformerAdapter(index))
                       for index, site in enumerate(sites)]
