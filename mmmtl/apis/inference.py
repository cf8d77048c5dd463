"""Predict every task of a trained model on one's own images.

:class:`MultiTaskInferencer` plays the part of mmseg's ``MMSegInferencer``::

    inferencer = MultiTaskInferencer('configs/vmt/vmt_swin_t_pascal.py',
                                     'work_dirs/vmt/iter_40000.pth')
    maps = inferencer('photos/')       # one {task: np.ndarray} per image

It builds the config's model, loads the checkpoint as the runner does
(weights only with mmmtl's allow-list, refused unless it holds the weights
of the model; an adapter-only checkpoint over the model initialised with
its pretrained backbone, refused unless that is the backbone it was
trained on), preprocesses each image with the config's test pipeline
without its annotation loading, and returns every task's prediction at the
image's original size (``test_cfg.output_size='original'`` whatever the
config says).
"""
import copy
import os
import os.path as osp
import sys
import warnings
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Union)

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.utils import ProgressBar
from torch import Tensor, nn

from mmmtl.compat.checkpoint import checkpoint_loading
from mmmtl.datasets.decoders import ImageDecodeError
from mmmtl.engine.adapter_checkpoint import load_checkpoint_into
from mmmtl.registry import DATASETS, MODELS, TRANSFORMS
from mmmtl.structures import get_task
from mmmtl.utils import register_all_modules
from .runner_setup import load_config, replace_sync_bn

IMAGE_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.png', '.tif', '.tiff',
                    '.webp')
ImageSource = Union[str, np.ndarray]
InputsType = Union[ImageSource, Sequence[ImageSource]]


class ImageInput(NamedTuple):
    """One image to predict: ``name`` (the file stem, or ``array_<i>``;
    unique within a call) and ``source`` (a path or a (H, W, 3) BGR
    uint8 array)."""
    name: str
    source: ImageSource


class ImageReadError(ValueError):
    """An input image file that cannot be read or decoded (``path``,
    ``reason``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'cannot read image {path}: {reason}')
        self.path = path
        self.reason = reason


class Prediction(NamedTuple):
    """One image's result: ``name`` (as :class:`ImageInput`), ``image``
    (the image as loaded, (H, W, 3) BGR) and ``maps`` (``{task: array}``
    at (H, W), see :func:`prediction_to_numpy`)."""
    name: str
    image: np.ndarray
    maps: Dict[str, np.ndarray]


def folder_images(folder: str) -> List[str]:
    """Sorted image files (:data:`IMAGE_EXTENSIONS`) directly in ``folder``.

    Raises:
        FileNotFoundError: the folder holds no image file.
    """
    files = sorted(
        osp.join(folder, name) for name in os.listdir(folder)
        if name.lower().endswith(IMAGE_EXTENSIONS)
        and osp.isfile(osp.join(folder, name)))
    if not files:
        raise FileNotFoundError(
            f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in folder '
            f'{folder}')
    return files


def as_bgr_array(array: np.ndarray) -> np.ndarray:
    """A uint8 image array (H, W) grey or (H, W, 3) BGR -> (H, W, 3) BGR.

    Raises:
        ValueError: another shape or dtype.
    """
    if array.dtype != np.uint8 or not (
            array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f'an image array must be uint8 (H, W) or '
                         f'(H, W, 3) BGR, got {array.dtype} {array.shape}')
    return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR) if array.ndim == 2 \
        else array


def _sources(inputs: InputsType) -> List[ImageSource]:
    """Paths and arrays of ``inputs``, folders expanded."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    sources: List[ImageSource] = []
    for item in items:
        if isinstance(item, np.ndarray):
            sources.append(as_bgr_array(item))
        elif isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            if osp.isdir(path):
                sources.extend(folder_images(path))
            elif osp.isfile(path):
                sources.append(path)
            else:
                raise FileNotFoundError(f'input image not found: {path}')
        else:
            raise TypeError(f'an input must be a path, a folder or a numpy '
                            f'array, got {type(item).__name__}')
    if not sources:
        raise ValueError('no input images given')
    return sources


def _unique(names: List[str]) -> List[str]:
    """``names`` with repeats suffixed ``_2``, ``_3``, ... (in order),
    never clashing with another given name."""
    given, taken = set(names), set()
    out: List[str] = []
    for name in names:
        candidate, k = name, 2
        while candidate in taken or (candidate != name
                                     and candidate in given):
            candidate, k = f'{name}_{k}', k + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def collect_inputs(inputs: InputsType) -> List[ImageInput]:
    """Expand a path, a folder (its sorted image files), a numpy array or
    a list of those into named images.

    Raises:
        FileNotFoundError: a path does not exist, or a folder holds no
            image file.
        ValueError: no input at all, or an array that is not an image.
    """
    sources = _sources(inputs)
    names = [osp.splitext(osp.basename(s))[0] if isinstance(s, str)
             else f'array_{i}' for i, s in enumerate(sources)]
    return [ImageInput(n, s) for n, s in zip(_unique(names), sources)]


def prediction_to_numpy(pred: Tensor, kind: str) -> np.ndarray:
    """One task's ``pred_maps`` entry -> numpy at (H, W).

    Args:
        pred: (1, H, W) for label/binary/scalar tasks, (3, H, W) normals.
        kind: the task's kind.

    Returns:
        label: int64 (H, W) class ids; binary: float32 (H, W)
        probabilities; normal: float32 (H, W, 3) unit vectors; scalar:
        float32 (H, W) values.
    """
    array = pred.detach().cpu().numpy()
    if kind == 'normal':
        return np.ascontiguousarray(array.transpose(1, 2, 0),
                                    dtype=np.float32)
    return array[0].astype(np.int64 if kind == 'label' else np.float32)


def inference_pipeline(cfg: Config) -> List[dict]:
    """The config's test pipeline minus its annotation loading.

    Raises:
        ValueError: the config has no ``test_dataloader.dataset.pipeline``
            or the pipeline does not start by loading the image.
    """
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        raise ValueError('the config has no test_dataloader.dataset.pipeline '
                         'to preprocess images with') from None
    steps = [copy.deepcopy(step) for step in pipeline
             if 'Annotations' not in str(step['type'])]
    if not steps or 'LoadImage' not in str(steps[0]['type']):
        raise ValueError('the test pipeline must start with an image-loading '
                         f'transform (LoadImageFromFile), got {steps[:1]}')
    return steps


def dataset_palettes(cfg: Config) -> Dict[str, np.ndarray]:
    """``{task: (K, 3) RGB uint8}`` of the config's test dataset class
    (``METAINFO['palette']``, updated by the config's ``metainfo``)."""
    dataset = cfg.test_dataloader.dataset
    dataset_cls = DATASETS.get(dataset.type) if isinstance(
        dataset.type, str) else dataset.type
    palettes = dict(getattr(dataset_cls, 'METAINFO', {}).get('palette', {}))
    palettes.update((dataset.get('metainfo') or {}).get('palette', {}))
    return {task: np.asarray(p, np.uint8) for task, p in palettes.items()}


def pick_device(device: Optional[str]) -> torch.device:
    """``device``, or CUDA when there is one, else the CPU.

    Raises:
        ValueError: ``device`` is no torch device name, or a CUDA device
            is asked for and none is there.
    """
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ValueError(f'unknown device {device!r}; use cpu, cuda or '
                         'cuda:N') from None
    if chosen.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device {device!r} asked for, but torch finds no '
                         'CUDA device here; use --device cpu')
    return chosen


class MultiTaskInferencer:
    """Predict every task of a config's model on images of any size.

    Args:
        config: config file path or a loaded ``Config``.
        checkpoint: checkpoint of that config (loaded weights only, and
            refused unless it holds every weight of the model), or an
            adapter-only checkpoint of it (loaded over the model
            initialised with the config's pretrained backbone). ``None``
            runs the model's initial (random) weights, with a warning: for
            testing the pipeline only.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...; default CUDA
            when available.
        tasks: tasks to return (default: all the model's tasks).
        unsafe_load: fully unpickle the checkpoint (runs code from it;
            trusted files only).

    Raises:
        FileNotFoundError: the config or checkpoint does not exist.
        KeyError: a task of ``tasks`` is not one of the model's.
        ValueError: the checkpoint is unreadable, refused or not the
            model's (:class:`~mmmtl.engine.checkpoint_check.
            CheckpointMismatchError`), or a CUDA device is missing.
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None,
                 device: Optional[str] = None,
                 tasks: Optional[Sequence[str]] = None,
                 unsafe_load: bool = False) -> None:
        register_all_modules()
        self.cfg = (load_config(config) if isinstance(config, str)
                    else copy.deepcopy(config))
        self.device = pick_device(device)
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        self.model = self._build_model()
        self._load_weights(checkpoint, unsafe_load)
        self.model.to(self.device).eval()
        self.tasks = self._check_tasks(tasks)
        steps = inference_pipeline(self.cfg)
        self._load_file = TRANSFORMS.build(steps[0])
        self._load_array = TRANSFORMS.build(
            dict(steps[0], type='LoadImageFromNDArray'))
        self._pipeline = Compose(steps[1:])
        self.num_classes = {
            task: self.model.heads[task].out_channels for task in self.tasks
            if get_task(task).kind == 'label'
            and hasattr(self.model.heads[task], 'out_channels')}
        self.palettes = {
            task: palette for task, palette in
            dataset_palettes(self.cfg).items()
            if len(palette) == self.num_classes.get(task)}

    def _build_model(self) -> nn.Module:
        """The config's model, predicting at each image's original size
        (SyncBN as BN: the same layer in eval mode, also without CUDA)."""
        model_cfg = copy.deepcopy(self.cfg.model)
        replace_sync_bn(model_cfg)
        model_cfg['test_cfg'] = dict(model_cfg.get('test_cfg') or {},
                                     output_size='original')
        return MODELS.build(model_cfg)

    def _load_weights(self, checkpoint: Optional[str],
                      unsafe_load: bool) -> None:
        """Copy the checkpoint's weights after checking that they are all
        the model's (adapter-only: initialise the model, then load over
        it); without one, initialise the model (warning)."""
        if checkpoint is not None:
            load_checkpoint_into(self.model, checkpoint, unsafe_load)
            return
        with checkpoint_loading(unsafe=unsafe_load):
            warnings.warn('MultiTaskInferencer: no checkpoint given, the '
                          'model runs its initial (random) weights and its '
                          'predictions mean nothing')
            self.model.init_weights()

    def _check_tasks(self, tasks: Optional[Sequence[str]]) -> List[str]:
        """``tasks`` (default all the model's), each one of the model's.

        Raises:
            KeyError: naming the unknown task and the model's tasks.
        """
        known = list(self.model.task_names)
        for task in tasks or ():
            if task not in known:
                raise KeyError(f'task {task!r} is not predicted by this '
                               f'model; its tasks are {", ".join(known)}')
        return list(tasks) if tasks else known

    def _prepare(self, item: ImageInput) -> dict:
        """Load and preprocess one image: ``inputs``, ``data_samples`` and
        ``image`` (as loaded, before any resize).

        Raises:
            ImageReadError: the file cannot be read as an image.
        """
        if isinstance(item.source, np.ndarray):
            results = self._load_array(dict(img=item.source))
        else:
            try:
                results = self._load_file(dict(img_path=item.source))
            except ImageDecodeError as exc:
                empty = osp.isfile(item.source) and \
                    osp.getsize(item.source) == 0
                raise ImageReadError(
                    item.source, 'the file is empty (0 bytes)' if empty
                    else 'cannot decode it (truncated, corrupted or not an '
                    'image)') from exc
            except OSError as exc:
                raise ImageReadError(item.source,
                                     exc.strerror or str(exc)) from exc
            except Exception as exc:
                raise ImageReadError(item.source, str(exc)) from exc
            if results is None:  # LoadImageFromFile(ignore_empty=True)
                raise ImageReadError(item.source, 'the loader skipped it')
        image = results['img']
        packed = self._pipeline(results)
        packed['image'] = image
        return packed

    @torch.no_grad()
    def _predict_batch(self, items: List[ImageInput],
                       skipped: Optional[List[ImageReadError]] = None
                       ) -> List[Prediction]:
        """Predictions of one batch of images; with ``skipped`` given, an
        image that cannot be read is left out (with a warning naming it)
        and its error appended there instead of raised."""
        prepared, kept = [], []
        for item in items:
            try:
                prepared.append(self._prepare(item))
            except ImageReadError as exc:
                if skipped is None:
                    raise
                warnings.warn(f'skipped {exc.path}: {exc.reason}')
                skipped.append(exc)
                continue
            kept.append(item)
        if not kept:
            return []
        items = kept
        batch = pseudo_collate(
            [dict(inputs=p['inputs'], data_samples=p['data_samples'])
             for p in prepared])
        samples = self.model.test_step(batch)
        return [
            Prediction(item.name, p['image'], {
                task: prediction_to_numpy(sample.pred_maps.get(task),
                                          get_task(task).kind)
                for task in self.tasks})
            for item, p, sample in zip(items, prepared, samples)]

    def iter_predictions(self, inputs: InputsType, batch_size: int = 1,
                         progress: bool = False,
                         skipped: Optional[List[ImageReadError]] = None
                         ) -> Iterator[Prediction]:
        """Yield one :class:`Prediction` per image, in input order.

        Args:
            inputs: see :func:`collect_inputs`.
            batch_size: images per model call.
            progress: draw a progress bar on stderr.
            skipped: if given, image files that cannot be read (empty,
                corrupted, not an image) are skipped with a warning naming
                each and their :class:`ImageReadError` appended to this
                list; by default the first one raises.

        Raises:
            ImageReadError: an image file cannot be read (``skipped`` not
                given).
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be at least 1, got '
                             f'{batch_size}')
        items = collect_inputs(inputs)
        bar = ProgressBar(len(items), file=sys.stderr) if progress else None
        for start in range(0, len(items), batch_size):
            batch = items[start:start + batch_size]
            yield from self._predict_batch(batch, skipped)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            sys.stderr.write('\n')

    def __call__(self, inputs: InputsType, batch_size: int = 1,
                 progress: bool = False) -> List[Dict[str, np.ndarray]]:
        """``{task: array}`` per image, at the image's original (H, W)
        (see :func:`prediction_to_numpy` for the formats)."""
        return [pred.maps for pred in
                self.iter_predictions(inputs, batch_size, progress)]
