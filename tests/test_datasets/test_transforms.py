"""Multi-task transforms: every map stays aligned with the image.

The synthetic scene encodes its label map in the image colours (one pure
colour per class), and every other task map is a known function of the
label, so alignment is checked independently of the transforms' code.
"""
import copy

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmcv.transforms.utils import cache_random_params

from mmmtl.registry import TRANSFORMS
from mmmtl.structures import MultiTaskDataSample

PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
                    [0, 255, 255]], dtype=np.uint8)
LABEL_NORMALS = np.array([[0.6, 0.0, 0.8], [0.0, 0.6, 0.8], [-0.48, 0.36, 0.8],
                          [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
TASKS = ('semseg', 'saliency', 'normals', 'depth')


def make_label(height: int, width: int, block: int = 8,
               seed: int = 0) -> np.ndarray:
    """(H, W) uint8 map of random 0..4 labels in ``block`` squares."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 5, size=(-(-height // block), -(-width // block)))
    return np.kron(coarse, np.ones((block, block)))[:height, :width].astype(
        np.uint8)


def make_results(label: np.ndarray) -> dict:
    """Image and gt_maps, all derived from ``label``."""
    return dict(
        img=PALETTE[label].copy(),
        img_shape=label.shape,
        ori_shape=label.shape,
        gt_maps=dict(
            semseg=label.copy(),
            saliency=(label >= 2).astype(np.uint8),
            normals=LABEL_NORMALS[label].copy(),
            depth=label.astype(np.float32) + 1.0))


def decode_colours(img: np.ndarray):
    """(pure mask, label) of pixels whose colour is exactly a palette one."""
    match = np.all(img[:, :, None, :] == PALETTE[None, None], axis=3)
    return match.any(axis=2), match.argmax(axis=2)


def interior(label: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels whose (2r+1)^2 neighbourhood holds a single label."""
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    grown = cv2.dilate(label, kernel)
    shrunk = cv2.erode(label, kernel)
    mask = grown == shrunk
    mask[:radius] = mask[-radius:] = False
    mask[:, :radius] = mask[:, -radius:] = False
    return mask


def rotation_z(angle: float) -> np.ndarray:
    """3x3 rotation of normals by ``angle`` degrees about z (y up)."""
    theta = np.deg2rad(angle)
    return np.array([[np.cos(theta), -np.sin(theta), 0],
                     [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])


def assert_aligned(results: dict, normals_matrix=np.eye(3)) -> None:
    """Image colours, label, saliency, depth and normals agree pixelwise.

    ``normals_matrix`` (3, 3) maps the scene's normals to the expected ones
    (identity, a flip or a rotation about z).
    """
    maps = results['gt_maps']
    semseg = maps['semseg']
    assert semseg.shape == results['img'].shape[:2]
    for task in TASKS:
        assert maps[task].shape[:2] == semseg.shape, task
    assert set(np.unique(semseg)) <= set(range(5)) | {255}
    pure, colour_label = decode_colours(results['img'])
    valid = semseg != 255
    assert (pure & valid).mean() > 0.3
    np.testing.assert_array_equal(colour_label[pure & valid],
                                  semseg[pure & valid])
    np.testing.assert_array_equal(maps['saliency'][valid],
                                  (semseg[valid] >= 2).astype(np.uint8))
    assert np.all(maps['saliency'][~valid] == 255)
    np.testing.assert_array_equal(maps['depth'][valid],
                                  semseg[valid].astype(np.float32) + 1.0)
    assert np.all(maps['depth'][~valid] == 0)
    norms = np.linalg.norm(maps['normals'], axis=2)
    nonzero = norms > 0
    np.testing.assert_allclose(norms[nonzero], 1.0, atol=1e-5)
    np.testing.assert_array_equal(nonzero, valid & (semseg != 4))
    expected = LABEL_NORMALS @ np.asarray(normals_matrix).T
    inner = interior(semseg) & valid
    assert inner.any()
    np.testing.assert_allclose(maps['normals'][inner],
                               expected[semseg[inner]], atol=1e-4)


def build(cfg: dict):
    return TRANSFORMS.build(cfg)


# --------------------------------------------------------------- loading


def write_annotations(tmp_path, label: np.ndarray, ann_shape=None) -> dict:
    """Write image and annotation files; returns the data_info dict."""
    ann_label = label
    if ann_shape is not None:
        ann_label = cv2.resize(label, (ann_shape[1], ann_shape[0]),
                               interpolation=cv2.INTER_NEAREST_EXACT)
    img_path = str(tmp_path / 'img.png')
    cv2.imwrite(img_path, PALETTE[label])
    cv2.imwrite(str(tmp_path / 'semseg.png'), ann_label)
    cv2.imwrite(str(tmp_path / 'sal.png'), (ann_label >= 2).astype(np.uint8) *
                255)
    np.save(str(tmp_path / 'normals.npy'), LABEL_NORMALS[ann_label])
    np.save(str(tmp_path / 'depth.npy'), ann_label.astype(np.float32) + 1.0)
    return dict(
        img_path=img_path,
        tasks=TASKS,
        ann_info=dict(
            semseg=dict(type='png_label', path=str(tmp_path / 'semseg.png'),
                        num_classes=5),
            saliency=dict(type='png_binary', path=str(tmp_path / 'sal.png')),
            normals=dict(type='npy', path=str(tmp_path / 'normals.npy')),
            depth=dict(type='npy', path=str(tmp_path / 'depth.npy'))))


LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]


def test_load_annotations_decodes_every_task(tmp_path):
    label = make_label(16, 24)
    info = write_annotations(tmp_path, label)
    results = Compose(LOAD)(info)
    maps = results['gt_maps']
    assert set(maps) == set(TASKS)
    assert results['tasks'] == TASKS
    np.testing.assert_array_equal(results['img'], PALETTE[label])
    np.testing.assert_array_equal(maps['semseg'], label)
    assert maps['semseg'].dtype == np.uint8
    np.testing.assert_array_equal(maps['saliency'], label >= 2)
    np.testing.assert_array_equal(maps['depth'], label + 1.0)
    assert maps['normals'].dtype == np.float32
    np.testing.assert_array_equal(maps['normals'], LABEL_NORMALS[label])


def test_load_annotations_subset_of_tasks(tmp_path):
    info = write_annotations(tmp_path, make_label(16, 24))
    info['tasks'] = ('depth', )
    results = Compose(LOAD)(info)
    assert set(results['gt_maps']) == {'depth'}


def test_load_annotations_default_tasks_are_all_ann_info(tmp_path):
    info = write_annotations(tmp_path, make_label(16, 24))
    del info['tasks']
    results = build(dict(type='LoadMultiTaskAnnotations'))(info)
    assert results['tasks'] == tuple(info['ann_info'])
    assert set(results['gt_maps']) == set(TASKS)


def test_unknown_task_raises_get_task_error(tmp_path):
    info = write_annotations(tmp_path, make_label(16, 24))
    info['tasks'] = ('semseg', 'no_such_task')
    with pytest.raises(KeyError, match='unknown task .no_such_task.'):
        Compose(LOAD)(info)


def test_task_without_annotation_names_it(tmp_path):
    info = write_annotations(tmp_path, make_label(16, 24))
    info['tasks'] = ('human_parts', )
    with pytest.raises(KeyError, match='human_parts.*img.png'):
        Compose(LOAD)(info)


def test_size_mismatch_error_names_file_task_and_shapes(tmp_path):
    info = write_annotations(tmp_path, make_label(16, 24), ann_shape=(8, 12))
    with pytest.raises(ValueError) as err:
        Compose(LOAD)(info)
    message = str(err.value)
    assert 'semseg.png' in message and "'semseg'" in message
    assert '(8, 12)' in message and '(16, 24)' in message


def test_size_mismatch_uses_ori_shape_without_image(tmp_path):
    info = write_annotations(tmp_path, make_label(16, 24))
    info['ori_shape'] = (10, 10)
    with pytest.raises(ValueError, match='(16, 24).*(10, 10)'):
        build(dict(type='LoadMultiTaskAnnotations'))(info)


def test_size_mismatch_resize_fits_maps_to_image(tmp_path):
    coarse = make_label(8, 12, block=4)
    label = np.kron(coarse, np.ones((2, 2), np.uint8))
    info = write_annotations(tmp_path, label, ann_shape=(8, 12))
    pipeline = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='LoadMultiTaskAnnotations', size_mismatch='resize')
    ])
    maps = pipeline(info)['gt_maps']
    for task in TASKS:
        assert maps[task].shape[:2] == (16, 24), task
    np.testing.assert_array_equal(maps['semseg'], label)
    np.testing.assert_array_equal(maps['depth'], label + 1.0)
    norms = np.linalg.norm(maps['normals'], axis=2)
    np.testing.assert_allclose(norms[label != 4], 1.0, atol=1e-5)
    assert np.all(norms[label == 4] == 0)


def test_maps_stay_at_original_size_after_an_earlier_resize(tmp_path):
    label = make_label(16, 24)
    info = write_annotations(tmp_path, label)
    results = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='MultiTaskResize', scale=(12, 8)),
        dict(type='LoadMultiTaskAnnotations'),
    ])(info)
    assert results['img'].shape[:2] == (8, 12)
    np.testing.assert_array_equal(results['gt_maps']['semseg'], label)


def test_size_mismatch_mode_is_checked():
    with pytest.raises(ValueError, match='size_mismatch'):
        build(dict(type='LoadMultiTaskAnnotations', size_mismatch='crop'))


# ------------------------------------------------------------- geometric


@pytest.mark.parametrize('scale, keep_ratio, expected', [
    ((72, 48), False, (48, 72)),
    ((30, 20), False, (20, 30)),
    ((40, 30), True, (27, 40)),
])
def test_resize_moves_all_maps(scale, keep_ratio, expected):
    results = make_results(make_label(32, 48))
    results = build(dict(type='MultiTaskResize', scale=scale,
                         keep_ratio=keep_ratio))(results)
    assert results['img'].shape[:2] == expected
    assert results['img_shape'] == expected
    assert results['scale_factor'] == pytest.approx(
        (expected[1] / 48, expected[0] / 32))
    assert_aligned(results)


def test_resize_samples_maps_at_pixel_centres_like_the_image():
    label = make_label(48, 48, block=1)
    results = build(dict(type='MultiTaskResize',
                         scale=(16, 16)))(make_results(label))
    centres = label[1::3, 1::3]
    np.testing.assert_array_equal(results['img'], PALETTE[centres])
    np.testing.assert_array_equal(results['gt_maps']['semseg'], centres)
    np.testing.assert_array_equal(results['gt_maps']['depth'], centres + 1.0)


def test_random_resize_scale_in_range():
    np.random.seed(0)
    transform = build(dict(type='MultiTaskRandomResize', scale=(48, 32),
                           ratio_range=(1.5, 2.0)))
    for _ in range(3):
        results = transform(make_results(make_label(32, 48)))
        height, width = results['img_shape']
        assert 48 <= height <= 64 and 72 <= width <= 96
        assert width / height == pytest.approx(1.5, abs=0.05)
        assert_aligned(results)


def test_crop_moves_all_maps():
    np.random.seed(1)
    label = make_label(32, 48)
    results = build(dict(type='MultiTaskRandomCrop',
                         crop_size=(16, 24)))(make_results(label))
    assert results['img_shape'] == (16, 24)
    assert_aligned(results)
    img = PALETTE[label]
    offsets = [(y, x) for y in range(17) for x in range(25)
               if np.array_equal(img[y:y + 16, x:x + 24], results['img'])]
    assert any(
        np.array_equal(label[y:y + 16, x:x + 24],
                       results['gt_maps']['semseg']) for y, x in offsets)


def test_crop_larger_than_image_pads_with_ignore_values():
    np.random.seed(2)
    label = make_label(16, 24)
    results = build(dict(type='MultiTaskRandomCrop',
                         crop_size=(20, 30)))(make_results(label))
    maps = results['gt_maps']
    assert results['img'].shape == (20, 30, 3)
    np.testing.assert_array_equal(maps['semseg'][:16, :24], label)
    assert np.all(maps['semseg'][16:] == 255)
    assert np.all(maps['semseg'][:, 24:] == 255)
    assert np.all(maps['saliency'][16:] == 255)
    assert np.all(maps['depth'][:, 24:] == 0)
    assert np.all(maps['normals'][16:] == 0)
    assert np.all(results['img'][16:] == 0)
    assert_aligned(results)


def test_crop_cat_max_ratio_rejects_dominated_crops():
    label = np.zeros((32, 32), np.uint8)
    label[16:, 16:] = 1

    def dominated(cat_max_ratio: float) -> int:
        transform = build(dict(type='MultiTaskRandomCrop', crop_size=(16, 16),
                               cat_max_ratio=cat_max_ratio))
        count = 0
        for _ in range(20):
            semseg = transform(make_results(label))['gt_maps']['semseg']
            counts = np.bincount(semseg.ravel(), minlength=2)
            count += counts.max() / counts.sum() >= 0.9
        return count

    np.random.seed(3)
    assert dominated(1.0) >= 3
    assert dominated(0.9) == 0


def test_flip_horizontal_negates_normals_x():
    label = make_label(16, 24)
    results = make_results(label)
    original = copy.deepcopy(results['gt_maps'])
    results = build(dict(type='MultiTaskRandomFlip', prob=1.0))(results)
    maps = results['gt_maps']
    assert results['flip'] is True
    assert results['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(maps['semseg'], label[:, ::-1])
    np.testing.assert_array_equal(maps['depth'], original['depth'][:, ::-1])
    expected = original['normals'][:, ::-1] * np.array([-1, 1, 1], np.float32)
    np.testing.assert_array_equal(maps['normals'], expected)
    assert_aligned(results, normals_matrix=np.diag([-1, 1, 1]))


def test_flip_vertical_negates_normals_y():
    label = make_label(16, 24)
    results = build(dict(type='MultiTaskRandomFlip', prob=1.0,
                         direction='vertical'))(make_results(label))
    expected = LABEL_NORMALS[label[::-1]] * np.array([1, -1, 1], np.float32)
    np.testing.assert_array_equal(results['gt_maps']['normals'], expected)
    np.testing.assert_array_equal(results['gt_maps']['semseg'], label[::-1])
    assert results['flip_direction'] == 'vertical'


def test_flip_prob_zero_records_no_flip():
    label = make_label(16, 24)
    results = build(dict(type='MultiTaskRandomFlip', prob=0.0))(
        make_results(label))
    assert results['flip'] is False and results['flip_direction'] is None
    np.testing.assert_array_equal(results['gt_maps']['semseg'], label)


@pytest.mark.parametrize('y_axis, rotate_xy', [
    ('up', lambda x, y: (-y, x)),
    ('down', lambda x, y: (y, -x)),
])
def test_rotate_90_rotates_maps_and_normals(y_axis, rotate_xy):
    from mmmtl.datasets.transforms import scale_rotate
    label = make_label(32, 32)
    results = scale_rotate(make_results(label), 90.0, 1.0,
                           normal_y_axis=y_axis)
    maps = results['gt_maps']
    np.testing.assert_array_equal(results['img'], np.rot90(PALETTE[label]))
    np.testing.assert_array_equal(maps['semseg'], np.rot90(label))
    np.testing.assert_array_equal(maps['depth'], np.rot90(label + 1.0))
    source = np.rot90(LABEL_NORMALS[label])
    new_x, new_y = rotate_xy(source[..., 0], source[..., 1])
    expected = np.stack([new_x, new_y, source[..., 2]], axis=2)
    np.testing.assert_allclose(maps['normals'], expected, atol=1e-5)


def test_random_scale_rotate_keeps_alignment_and_fills_ignore():
    np.random.seed(4)
    transform = build(dict(type='MultiTaskRandomScaleRotate', prob=1.0,
                           max_rotate=20, scale_range=(0.75, 0.8)))
    for _ in range(3):
        label = make_label(40, 40)
        with cache_random_params(transform):
            results = transform(make_results(label))
            angle, _ = transform.sample()
        assert_aligned(results, normals_matrix=rotation_z(angle))
        assert results['img'].shape == (40, 40, 3)
        corner = (0, 0)
        assert results['gt_maps']['semseg'][corner] == 255
        assert np.all(results['img'][corner] == 0)


def test_random_scale_rotate_prob_zero_is_identity():
    label = make_label(16, 24)
    results = build(dict(type='MultiTaskRandomScaleRotate',
                         prob=0.0))(make_results(label))
    np.testing.assert_array_equal(results['gt_maps']['semseg'], label)


def test_photometric_distortion_changes_image_only():
    np.random.seed(5)
    results = make_results(make_label(16, 24))
    before = copy.deepcopy(results)
    results = build(dict(type='PhotoMetricDistortion'))(results)
    assert not np.array_equal(results['img'], before['img'])
    for task in TASKS:
        np.testing.assert_array_equal(results['gt_maps'][task],
                                      before['gt_maps'][task])


# ------------------------------------------------------------- packing


def test_pack_dtypes_shapes_and_meta():
    label = make_label(16, 24)
    results = make_results(label)
    results.update(img_path='x.png', flip=False, tasks=TASKS, sample_idx=3)
    packed = build(dict(type='PackMultiTaskInputs'))(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(sample, MultiTaskDataSample)
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 16, 24)
    np.testing.assert_array_equal(inputs.permute(1, 2, 0).numpy(),
                                  PALETTE[label])
    gt = sample.gt_maps
    assert gt.semseg.dtype == torch.int64 and gt.semseg.shape == (1, 16, 24)
    assert gt.saliency.dtype == torch.int64
    assert gt.normals.dtype == torch.float32
    assert gt.normals.shape == (3, 16, 24)
    assert gt.depth.dtype == torch.float32 and gt.depth.shape == (1, 16, 24)
    np.testing.assert_array_equal(gt.semseg[0].numpy(), label)
    np.testing.assert_array_equal(gt.normals.permute(1, 2, 0).numpy(),
                                  LABEL_NORMALS[label])
    assert sample.img_path == 'x.png' and sample.sample_idx == 3
    assert sample.ori_shape == (16, 24) and sample.tasks == TASKS
    assert 'pad_shape' not in sample.metainfo
    assert 'img_id' not in sample.metainfo


def test_pack_without_gt_maps():
    packed = build(dict(type='PackMultiTaskInputs'))(
        dict(img=np.zeros((4, 5, 3), np.uint8)))
    assert 'gt_maps' not in packed['data_samples']
    assert packed['inputs'].shape == (3, 4, 5)


def test_full_training_pipeline(tmp_path):
    np.random.seed(6)
    info = write_annotations(tmp_path, make_label(32, 48))
    pipeline = Compose(LOAD + [
        dict(type='MultiTaskRandomResize', scale=(48, 32),
             ratio_range=(0.8, 1.2)),
        dict(type='MultiTaskRandomCrop', crop_size=(24, 24),
             cat_max_ratio=0.75),
        dict(type='MultiTaskRandomFlip', prob=0.5),
        dict(type='MultiTaskRandomScaleRotate', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackMultiTaskInputs'),
    ])
    packed = pipeline(info)
    assert packed['inputs'].shape == (3, 24, 24)
    gt = packed['data_samples'].gt_maps
    assert set(gt.keys()) == set(TASKS)
    assert gt.semseg.shape == (1, 24, 24)
    assert set(gt.semseg.unique().tolist()) <= set(range(5)) | {255}
    assert packed['data_samples'].flip in (True, False)
