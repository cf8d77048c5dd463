"""MTLoRA (Agiza et al., CVPR 2024), as in the official code
(https://github.com/scale-lab/MTLoRA); equations in
``docs/en/methods/mtlora.md``.

* Task-agnostic LoRA (rank r, scale s, dropout) on qkv, proj, fc1 and fc2
  of every block: W x + s B A x.
* Task-specific LoRA (rank r_t) on proj, fc1 and fc2 of the last block of
  each stage. That block and the stage's patch merging form a per-task
  region: the T task streams run batched next to the shared stream, task
  t's layers computing W x_shared + b + s_t B_t A_t x_t (the frozen weight
  applied to the shared stream's input, as the released code does). The
  shared stream continues to the next stage; task t's stream becomes its
  stage feature (after the patch merging with ``out_after_downsample``).
* Trainable besides the LoRA: patch embedding, every norm,
  relative-position bias tables and the patch-merging reductions.
"""
from typing import List, Optional, Sequence, Union

from torch import nn

from mmmtl.registry import MODELS
from ..mechanism.base import AdaptedBackbone
from ..layers.lora import LoRALinear

ROLES = ('qkv', 'proj', 'fc1', 'fc2')
TASK_ROLES = ('proj', 'fc1', 'fc2')
MTLORA_TRAINABLE = ('patch_embed', 'norms', 'relative_position',
                    'merge_reduction')


def per_stage(value: Union[int, Sequence[int]], num_stages: int,
              name: str) -> List[int]:
    """An int for every stage, or a list with one entry per stage."""
    if isinstance(value, int):
        return [value] * num_stages
    values = list(value)
    if len(values) != num_stages:
        raise ValueError(f'{name} needs one value per stage ({num_stages}), '
                         f'got {values}')
    return values


@MODELS.register_module()
class MTLoRA(AdaptedBackbone):
    """MTLoRA: shared + task-specific low-rank adaptation.

    Args:
        module: backbone config (mmseg Swin; ``SwinTransformerMTL(
            out_after_downsample=True)`` gives MTLoRA's stage outputs).
        tasks: task names.
        rank: shared rank r, one int or one per stage (16 / 32 / 64).
        task_rank: rank r_t of the task-specific LoRA.
        scale: s of the shared LoRA.
        task_scale: s_t (default ``scale``).
        dropout: dropout on the LoRA inputs.
        roles: linear layers with shared LoRA.
        task_roles: linear layers of the last block of each stage with
            task LoRA.
        frozen_input: ``'shared'`` (released code) or ``'task'`` (each task
            stream an independent run of the block); see
            :class:`~mmmtl.models.adapters.layers.lora.LoRALinear`.
        trainable_groups: backbone parameter groups left trainable (keys of
            the backbone support's ``trainable``); None: patch embedding,
            norms, relative-position tables and patch-merging reductions,
            those the family has (a ViT has no tables or mergings).
        trainable: extra trainable backbone parameter patterns.
        init_cfg: the wrapper's own init config.
    """

    default_trainable_groups = MTLORA_TRAINABLE
    requires = ('names', 'regions')

    def __init__(self, module: dict, tasks: Sequence[str],
                 rank: Union[int, Sequence[int]] = 16, task_rank: int = 4,
                 scale: float = 4.0, task_scale: float = None,
                 dropout: float = 0.05, roles: Sequence[str] = ROLES,
                 task_roles: Sequence[str] = TASK_ROLES,
                 frozen_input: str = 'shared',
                 trainable_groups: Optional[Sequence[str]] = None,
                 trainable: Sequence[str] = (), init_cfg: dict = None):
        self.rank, self.task_rank = rank, task_rank
        self.scale, self.task_scale = scale, task_scale
        self.dropout, self.frozen_input = dropout, frozen_input
        self.roles, self.task_roles = tuple(roles), tuple(task_roles)
        self.trainable_groups = (None if trainable_groups is None else
                                 tuple(trainable_groups))
        super().__init__(module, tasks, trainable=trainable,
                         init_cfg=init_cfg)

    def insert_adapters(self) -> None:
        """LoRA sites on every role; task LoRA and a per-task region at the
        last block of each output stage."""
        support = self.backbone_support()
        ranks = per_stage(self.rank, support.num_stages, 'rank')
        task_sites = {
            name for stage, _, name in support.role_sites(
                self.task_roles, 'last')
            if support.out_index(stage) is not None
        }
        for stage, _, name in support.role_sites(self.roles):
            linear = self.module.get_submodule(name)
            if not isinstance(linear, nn.Linear):
                raise TypeError(f'MTLoRA target {name!r} is a '
                                f'{type(linear).__name__}, not nn.Linear')
            per_task = name in task_sites
            self.replace(name, LoRALinear(
                linear.in_features, linear.out_features, ranks[stage],
                scale=self.scale, dropout=self.dropout,
                tasks=self.tasks if per_task else (),
                task_rank=self.task_rank if per_task else 0,
                task_scale=self.task_scale,
                frozen_input=self.frozen_input))
        self.add_regions(support.stage_regions(),
                         support.region_shared_segments())
