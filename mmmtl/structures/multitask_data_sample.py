"""The data sample that carries every task's ground truth and prediction."""
from mmengine.structures import BaseDataElement, PixelData


class MultiTaskDataSample(BaseDataElement):
    """One image's annotations and predictions for all tasks.

    Data fields:
        gt_maps (PixelData): one field per task, tensors (C, H, W) as packed
            by ``PackMultiTaskInputs``: ``label``/``binary`` tasks int64
            (1, H, W) with 255 = ignore, ``normal`` float32 (3, H, W),
            ``scalar`` float32 (1, H, W). During training the preprocessor
            pads them to the batch shape with each task's ignore value.
        pred_maps (PixelData): one field per task at the evaluation size
            (see :mod:`mmmtl.structures.tasks` for the formats).

    Metainfo: ``img_path``, ``ori_shape``, ``img_shape``, ``pad_shape``,
    ``flip``, ``flip_direction``, ``scale_factor``, ``tasks``.
    """

    @property
    def gt_maps(self) -> PixelData:
        return self._gt_maps

    @gt_maps.setter
    def gt_maps(self, value: PixelData) -> None:
        self.set_field(value, '_gt_maps', dtype=PixelData)

    @gt_maps.deleter
    def gt_maps(self) -> None:
        del self._gt_maps

    @property
    def pred_maps(self) -> PixelData:
        return self._pred_maps

    @pred_maps.setter
    def pred_maps(self, value: PixelData) -> None:
        self.set_field(value, '_pred_maps', dtype=PixelData)

    @pred_maps.deleter
    def pred_maps(self) -> None:
        del self._pred_maps
