"""The multi-task segmentor: one backbone pass, one head and loss per task."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import Tensor, nn

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample, check_tasks, get_task
from .postprocess import logits_to_prediction


class HeadDict(nn.ModuleDict):
    """The task heads, ``{task: head}``, initialised by their own
    ``init_weights``.

    mmengine's ``BaseModule.init_weights`` initialises only children that
    have an ``init_weights`` (a plain ``nn.ModuleDict`` has none). With
    this one the heads are initialised in mmengine's order (the
    segmentor's own initialisers, backbone and neck, every head, then the
    segmentor's ``Pretrained`` checkpoints, so loaded weights win) and
    inside its record of what set each parameter, which the init log
    prints.
    """

    def init_weights(self) -> None:
        for head in self.values():
            if hasattr(head, 'init_weights') and not getattr(
                    head, 'is_init', False):
                head.init_weights()


Features = Union[List[Tensor], Dict[str, List[Tensor]]]
SampleList = List[MultiTaskDataSample]
OUTPUT_SIZES = ('original', 'input')
TASK_KEYS = ('head', 'loss', 'loss_weight')


def select_tasks(tasks: Dict[str, dict],
                 task_names: Optional[Sequence[str]]) -> Dict[str, dict]:
    """The entries of ``tasks`` named by ``task_names`` in that order (all
    of them when ``task_names`` is None).

    Raises:
        KeyError: naming a task that ``tasks`` does not configure.
    """
    if task_names is None:
        return dict(tasks)
    if isinstance(task_names, str):
        task_names = (task_names, )
    unknown = [t for t in task_names if t not in tasks]
    if unknown:
        raise KeyError(f'model.task_names names {unknown}, which model.tasks '
                       f'does not configure (it has {list(tasks)})')
    return {t: tasks[t] for t in task_names}


@MODELS.register_module()
class MultiTaskSegmentor(BaseModel):
    """Shared (or adapted) backbone, optional neck, one head + loss per task.

    The backbone runs once per batch whatever the number of tasks. It returns
    either ``list[Tensor]`` of (B, C_i, H_i, W_i) shared by every head, or
    ``dict[task, list[Tensor]]`` of task-specific features.

    Args:
        backbone: backbone config. A registered class with
            ``accepts_tasks = True`` is built with ``tasks=<tuple of task
            names>``.
        tasks: ``dict(<task>=dict(head=cfg, loss=cfg, loss_weight=1.0))``;
            task names must be registered (:mod:`mmmtl.structures.tasks`).
            A head without ``in_channels`` gets the backbone's
            ``out_channels`` (e.g. Swin-T's [96, 192, 384, 768], or
            [192, 384, 768, 768] with ``out_after_downsample=True``).
        task_names: the tasks of ``tasks`` to build, in this order (None:
            all). A single-task variant of any multi-task config is
            ``--cfg-options model.task_names="['semseg']"``.
        data_preprocessor: preprocessor config (``MultiTaskDataPreProcessor``).
        neck: optional neck config, applied to the (per-task) feature list.
        train_cfg: kept for mmseg-style configs; unused.
        test_cfg: ``dict(output_size='original' | 'input')``: predictions at
            each sample's ``ori_shape`` (default) or its ``img_shape``.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 tasks: Dict[str, dict],
                 task_names: Optional[Sequence[str]] = None,
                 data_preprocessor: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not tasks:
            raise ValueError('MultiTaskSegmentor: `tasks` must configure at '
                             'least one task')
        tasks = select_tasks(tasks, task_names)
        self.task_names: Tuple[str, ...] = check_tasks(tasks, what='model')
        self.backbone = self._build_backbone(backbone, self.task_names)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.heads = HeadDict()
        self.losses = nn.ModuleDict()
        self.loss_weights: Dict[str, float] = {}
        for task, task_cfg in tasks.items():
            head, loss, weight = self._parse_task_cfg(task, task_cfg)
            self.heads[task] = MODELS.build(self._with_in_channels(head, task))
            self.losses[task] = MODELS.build(loss)
            self.loss_weights[task] = float(weight)
        self.train_cfg = train_cfg or {}
        self.test_cfg = {'output_size': 'original', **(test_cfg or {})}
        if self.test_cfg['output_size'] not in OUTPUT_SIZES:
            raise ValueError(f"test_cfg['output_size'] must be one of "
                             f"{OUTPUT_SIZES}, got "
                             f"{self.test_cfg['output_size']!r}")

    def _with_in_channels(self, head: dict, task: str) -> dict:
        """``head`` with ``in_channels`` set to the backbone's output
        channels when the config leaves them out (without a neck)."""
        if 'in_channels' in head:
            return head
        channels = getattr(self.backbone, 'out_channels', None)
        if channels is None or self.neck is not None:
            raise KeyError(
                f'tasks.{task}.head has no in_channels and they cannot be '
                'taken from the backbone '
                f'({type(self.backbone).__name__} has no out_channels' +
                (', and a neck changes them' if self.neck is not None
                 else '') + '); set in_channels in the head config')
        return dict(head, in_channels=list(channels))

    @staticmethod
    def _build_backbone(cfg: dict, tasks: Tuple[str, ...]) -> nn.Module:
        """Build the backbone, injecting ``tasks`` when it accepts them."""
        backbone_type = cfg.get('type')
        backbone_cls = (backbone_type if isinstance(backbone_type, type)
                        else MODELS.get(backbone_type))
        if backbone_cls is None:
            raise KeyError(f'backbone type {backbone_type!r} is not '
                           'registered in mmmtl (or mmseg) MODELS')
        if getattr(backbone_cls, 'accepts_tasks', False):
            return MODELS.build(cfg, default_args=dict(tasks=tasks))
        return MODELS.build(cfg)

    @staticmethod
    def _parse_task_cfg(task: str, cfg: dict) -> Tuple[dict, dict, float]:
        """Validate one ``tasks`` entry; return (head, loss, loss_weight)."""
        if not isinstance(cfg, dict):
            raise TypeError(f'tasks.{task} must be a dict with keys head, '
                            f'loss, loss_weight; got {type(cfg).__name__}')
        for key in ('head', 'loss'):
            if cfg.get(key) is None:
                raise KeyError(f'tasks.{task} has no {key!r} config (each '
                               'task needs head=dict(...) and '
                               'loss=dict(...))')
        unknown = sorted(set(cfg) - set(TASK_KEYS))
        if unknown:
            raise KeyError(f'tasks.{task}: unknown key(s) {unknown}; '
                           f'allowed: {TASK_KEYS}')
        return cfg['head'], cfg['loss'], cfg.get('loss_weight', 1.0)

    def extract_feat(self, inputs: Tensor) -> Features:
        """Run the backbone (once) and the neck.

        Args:
            inputs: images (B, 3, H, W).

        Returns:
            ``list[Tensor]`` (B, C_i, H_i, W_i) shared by all tasks, or
            ``dict[task, list[Tensor]]`` with an entry for every task.
        """
        feats = self.backbone(inputs)
        if isinstance(feats, dict):
            missing = [t for t in self.task_names if t not in feats]
            if missing:
                raise KeyError(f'the backbone returned task-specific '
                               f'features for {sorted(feats)} but not for '
                               f'configured task(s) {missing}')
            feats = {task: list(feats[task]) for task in self.task_names}
            if self.neck is not None:
                feats = {task: list(self.neck(f)) for task, f in
                         feats.items()}
            return feats
        feats = list(feats)
        if self.neck is not None:
            feats = list(self.neck(feats))
        return feats

    @staticmethod
    def _task_feats(feats: Features, task: str) -> List[Tensor]:
        """The feature list of ``task`` (shared list or its dict entry)."""
        if isinstance(feats, dict):
            if task not in feats:
                raise KeyError(f'no task-specific features for task '
                               f'{task!r}; have {sorted(feats)}')
            return feats[task]
        return feats

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[SampleList] = None
                 ) -> Dict[str, Tensor]:
        """Raw head outputs: task -> logits (B, C_t, h_t, w_t)."""
        feats = self.extract_feat(inputs)
        return {task: self.heads[task](self._task_feats(feats, task))
                for task in self.task_names}

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, Tensor], SampleList]:
        """``mode``: 'loss' -> dict of weighted ``loss_<task>``; 'predict'
        -> samples with ``pred_maps``; 'tensor' -> task -> head logits at
        head resolution.

        Args:
            inputs: preprocessed images (B, 3, H, W), padded.
            data_samples: one :class:`MultiTaskDataSample` per image.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'invalid mode {mode!r}; use "loss", "predict" '
                           'or "tensor"')

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Per-task losses, each multiplied by its ``loss_weight``.

        Logits are upsampled (bilinear) to the padded input size (H, W);
        gts (B, c, H, W) are the stacked ``gt_maps.<task>`` of the samples,
        already padded by the preprocessor.
        """
        if not data_samples or len(data_samples) != inputs.shape[0]:
            raise ValueError('loss() needs one data sample per image, got '
                             f'{len(data_samples or [])} for a batch of '
                             f'{inputs.shape[0]}')
        logits = self._forward(inputs)
        size = inputs.shape[2:]
        losses = {}
        for task in self.task_names:
            pred = F.interpolate(logits[task], size=size, mode='bilinear',
                                 align_corners=False)
            target = self._stack_gt(data_samples, task, size).to(pred.device)
            losses[f'loss_{task}'] = (self.loss_weights[task]
                                      * self.losses[task](pred, target))
        return losses

    @staticmethod
    def _stack_gt(data_samples: SampleList, task: str,
                  size: torch.Size) -> Tensor:
        """Stack ``gt_maps.<task>`` of every sample into (B, c, H, W)."""
        maps = []
        for sample in data_samples:
            img_path = sample.metainfo.get('img_path', '<no img_path>')
            gt_maps = sample.get('gt_maps')
            if gt_maps is None or task not in gt_maps:
                raise KeyError(f'no ground truth for task {task!r} in the '
                               f'sample of {img_path}; the model trains on '
                               f'{task!r}, so the dataset must load it')
            gt = gt_maps.get(task)
            if gt.shape[-2:] != size:
                raise ValueError(f'gt of task {task!r} for {img_path} has '
                                 f'shape {tuple(gt.shape)} but the batch '
                                 f'input is {tuple(size)}; the data '
                                 'preprocessor must pad every task map')
            maps.append(gt)
        return torch.stack(maps)

    def predict(self, inputs: Tensor,
                data_samples: Optional[SampleList] = None) -> SampleList:
        """Predictions of every task in each sample's ``pred_maps``.

        Logits are upsampled to ``batch_input_shape``, cropped to
        ``img_shape`` (padding removed), resized to ``ori_shape`` when
        ``test_cfg.output_size == 'original'`` and post-processed by task
        kind (see :func:`logits_to_prediction`).
        """
        if data_samples is None:
            shape = tuple(inputs.shape[2:])
            data_samples = [
                MultiTaskDataSample(metainfo=dict(
                    img_shape=shape, ori_shape=shape, pad_shape=shape,
                    batch_input_shape=shape))
                for _ in range(inputs.shape[0])
            ]
        logits = self._forward(inputs)
        preds: List[Dict[str, Tensor]] = [{} for _ in data_samples]
        for task in self.task_names:
            kind = get_task(task).kind
            for i, sample in enumerate(data_samples):
                task_logits = self._resize_to_output(logits[task][i:i + 1],
                                                     sample, inputs)
                preds[i][task] = logits_to_prediction(
                    task_logits[0], kind, task,
                    image=sample.metainfo.get('img_path'))
        for sample, pred in zip(data_samples, preds):
            sample.pred_maps = PixelData(**pred)
        return data_samples

    def _resize_to_output(self, logits: Tensor, sample: MultiTaskDataSample,
                          inputs: Tensor) -> Tensor:
        """(1, C, h, w) -> (1, C, H_out, W_out) at the evaluation size."""
        batch_shape = tuple(sample.metainfo.get('batch_input_shape',
                                                inputs.shape[2:]))
        img_h, img_w = sample.metainfo.get('img_shape', batch_shape)[:2]
        logits = F.interpolate(logits, size=batch_shape, mode='bilinear',
                               align_corners=False)
        logits = logits[..., :img_h, :img_w]
        if self.test_cfg['output_size'] == 'original':
            ori_shape = tuple(sample.metainfo.get('ori_shape',
                                                  (img_h, img_w))[:2])
            if ori_shape != (img_h, img_w):
                logits = F.interpolate(logits, size=ori_shape,
                                       mode='bilinear', align_corners=False)
        return logits
