"""The data-pipeline speed-ups against straightforward reference code."""
import copy

import cv2
import numpy as np
import pytest
import torch

from mmmtl.datasets.decoders import (decode_png_binary, decode_png_normals,
                                     normalize_vectors)
from mmmtl.datasets.formats.pascal import class_mask
from mmmtl.datasets.transforms import (MultiTaskRandomFlip,
                                       MultiTaskRandomScaleRotate,
                                       MultiTaskRandomScaleRotateResize,
                                       MultiTaskResize)
from mmmtl.datasets.transforms.formatting import map_to_tensor
from mmmtl.datasets.transforms.map_ops import (flip_array, normal_validity,
                                               resize_then)
from mmmtl.structures import get_task

H, W = 24, 32
OUT = (40, 30)  # (w, h)


def reference_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float64)
    norm = np.sqrt((vectors**2).sum(axis=2, keepdims=True))
    return np.where(norm > 1e-6, vectors / np.maximum(norm, 1e-6), 0.0)


def make_results(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    img = cv2.resize(coarse, (W, H), interpolation=cv2.INTER_LINEAR)
    semseg = np.kron(rng.integers(0, 21, (4, 4)), np.ones((6, 8), int))
    semseg = semseg.astype(np.uint8)
    semseg[:3, :3] = 255
    coarse_normals = rng.normal(size=(4, 5, 3)).astype(np.float32)
    normals = normalize_vectors(
        cv2.resize(coarse_normals, (W, H), interpolation=cv2.INTER_LINEAR))
    normals[5:9, 5:9] = 0.0
    return dict(img=img, img_shape=(H, W),
                gt_maps=dict(semseg=semseg, normals=normals,
                             saliency=(semseg % 2).astype(np.uint8)))


def inverse_points(matrix: np.ndarray, size) -> np.ndarray:
    """Source (x, y) of every output pixel centre, (h, w, 2)."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(full)
    ys, xs = np.mgrid[0:size[1], 0:size[0]]
    pts = np.stack([xs, ys, np.ones_like(xs)], axis=-1).astype(np.float64)
    return (pts @ inv.T)[..., :2]


def test_normalize_vectors_matches_reference():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(7, 9, 3)).astype(np.float32)
    vectors[0, :4] = 0.0
    vectors[1, 0] = 1e-8
    vectors[2, 0] = (-0.5, 0.0, 0.0)
    out = normalize_vectors(vectors)
    assert out.dtype == np.float32 and out.shape == vectors.shape
    np.testing.assert_allclose(out, reference_normalize(vectors), atol=1e-6)
    assert not np.signbit(out[0, :4]).any() and not out[1, 0].any()
    np.testing.assert_array_equal(out[2, 0], [-1.0, 0.0, 0.0])
    out64 = normalize_vectors(vectors.astype(np.float64))
    assert out64.dtype == np.float32


def test_png_normals_lookup_table_is_exact(tmp_path):
    values = np.arange(256, dtype=np.uint8)
    rgb = np.stack([values, values[::-1], np.full(256, 200, np.uint8)], -1)
    rgb = rgb.reshape(16, 16, 3)
    path = str(tmp_path / 'n.png')
    cv2.imwrite(path, rgb[..., ::-1])
    expected = reference_normalize(2.0 * rgb.astype(np.float64) / 255 - 1)
    np.testing.assert_allclose(decode_png_normals(path), expected,
                               atol=2e-6)


def test_resize_then_composes_point_mappings():
    rng = np.random.default_rng(2)
    matrix = cv2.getRotationMatrix2D((15.5, 11.5), 17.0, 1.2)
    composed = resize_then(matrix, (W, H), OUT)
    pts = rng.uniform(0, 30, (20, 2))
    warped = pts @ matrix[:, :2].T + matrix[:, 2]
    scale = np.array([OUT[0] / W, OUT[1] / H])
    expected = (warped + 0.5) * scale - 0.5
    got = pts @ composed[:, :2].T + composed[:, 2]
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_identity_warp_equals_centre_aligned_resize():
    labels = np.arange(24, dtype=np.uint8).reshape(4, 6)
    matrix = resize_then(np.eye(2, 3), (6, 4), (12, 8))
    warped = cv2.warpAffine(labels, matrix, (12, 8), flags=cv2.INTER_NEAREST)
    resized = cv2.resize(labels, (12, 8),
                         interpolation=cv2.INTER_NEAREST_EXACT)
    np.testing.assert_array_equal(warped, resized)


def fused_once(results: dict, seed: int, **kwargs) -> dict:
    transform = MultiTaskRandomScaleRotateResize(scale=OUT, **kwargs)
    np.random.seed(seed)
    return transform(copy.deepcopy(results))


def test_fused_draws_the_same_parameters_as_scale_rotate():
    transform = MultiTaskRandomScaleRotate(prob=0.5)
    fused = MultiTaskRandomScaleRotateResize(scale=OUT, prob=0.5)
    for seed in range(6):
        np.random.seed(seed)
        first = transform.sample()
        np.random.seed(seed)
        assert fused.scale_rotate.sample() == first


def test_fused_without_rotation_is_the_plain_resize():
    results = make_results()
    out = fused_once(results, 0, prob=0.0)
    plain = MultiTaskResize(scale=OUT)(copy.deepcopy(results))
    np.testing.assert_array_equal(out['img'], plain['img'])
    for task in results['gt_maps']:
        np.testing.assert_array_equal(out['gt_maps'][task],
                                      plain['gt_maps'][task])
    assert out['scale_factor'] == plain['scale_factor']


@pytest.mark.parametrize('seed', [0, 3])
def test_fused_matches_direct_affine_sampling(seed):
    results = make_results(seed)
    drawer = MultiTaskRandomScaleRotate(prob=1.0, scale_range=(0.75, 0.8))
    np.random.seed(seed)
    angle, zoom = drawer.sample()
    out = fused_once(results, seed, prob=1.0, scale_range=(0.75, 0.8))
    assert out['img'].shape == (OUT[1], OUT[0], 3)
    assert out['img_shape'] == (OUT[1], OUT[0])
    rotation = cv2.getRotationMatrix2D(((W - 1) / 2, (H - 1) / 2), angle,
                                       zoom)
    resize = np.diag([OUT[0] / W, OUT[1] / H, 1.0])
    resize[:2, 2] = [0.5 * OUT[0] / W - 0.5, 0.5 * OUT[1] / H - 0.5]
    matrix = (resize @ np.vstack([rotation, [0, 0, 1]]))[:2]
    src = inverse_points(matrix, OUT)
    near = np.floor(src + 0.5).astype(int)
    inside = ((near[..., 0] >= 0) & (near[..., 0] < W) &
              (near[..., 1] >= 0) & (near[..., 1] < H))
    tie = (np.abs(src - np.round(src) - 0.5) < 1e-2).any(-1) | \
        (np.abs(src - np.round(src) + 0.5) < 1e-2).any(-1)
    ny, nx = np.clip(near[..., 1], 0, H - 1), np.clip(near[..., 0], 0, W - 1)
    for task in ('semseg', 'saliency'):
        expected = np.where(inside, results['gt_maps'][task][ny, nx], 255)
        got = out['gt_maps'][task]
        assert got.shape == (OUT[1], OUT[0]) and got.dtype == np.uint8
        np.testing.assert_array_equal(got[~tie], expected[~tie])
    assert (out['gt_maps']['semseg'][~inside & ~tie] == 255).all()
    x0 = np.floor(src).astype(int)
    frac = src - x0
    interior = ((x0[..., 0] >= 0) & (x0[..., 0] < W - 1) &
                (x0[..., 1] >= 0) & (x0[..., 1] < H - 1))
    x0c = np.clip(x0[..., 0], 0, W - 2)
    y0c = np.clip(x0[..., 1], 0, H - 2)
    img = results['img'].astype(np.float64)
    fx, fy = frac[..., :1], frac[..., 1:]
    bilinear = (img[y0c, x0c] * (1 - fx) * (1 - fy) +
                img[y0c, x0c + 1] * fx * (1 - fy) +
                img[y0c + 1, x0c] * (1 - fx) * fy +
                img[y0c + 1, x0c + 1] * fx * fy)
    diff = np.abs(out['img'].astype(np.float64) - bilinear)[interior]
    assert diff.max() <= 2.0
    normals = out['gt_maps']['normals']
    valid = np.any(normals != 0, axis=2)
    np.testing.assert_allclose(np.linalg.norm(normals[valid], axis=1), 1.0,
                               atol=1e-5)
    src_valid = np.any(results['gt_maps']['normals'] != 0, axis=2)
    expect_valid = inside & src_valid[ny, nx]
    np.testing.assert_array_equal(valid[~tie], expect_valid[~tie])


def test_fused_agrees_with_the_two_step_pipeline():
    results = make_results(5)
    out = fused_once(results, 4, prob=1.0)
    np.random.seed(4)
    two = MultiTaskRandomScaleRotate(prob=1.0)(copy.deepcopy(results))
    two = MultiTaskResize(scale=OUT)(two)
    for task in ('semseg', 'saliency'):
        agree = (out['gt_maps'][task] == two['gt_maps'][task]).mean()
        assert agree > 0.9
    valid = np.any(out['gt_maps']['normals'] != 0, axis=2) & \
        np.any(two['gt_maps']['normals'] != 0, axis=2)
    cos = (out['gt_maps']['normals'] * two['gt_maps']['normals']).sum(-1)
    assert np.median(cos[valid]) > 0.99


def test_flip_after_fused_negates_normals_x_and_keeps_ignore():
    out = fused_once(make_results(), 1, prob=1.0, scale_range=(0.75, 0.75))
    flip = MultiTaskRandomFlip(prob=1.0)(copy.deepcopy(out))
    np.testing.assert_array_equal(flip['gt_maps']['normals'][..., 0],
                                  -out['gt_maps']['normals'][:, ::-1, 0] + 0)
    np.testing.assert_array_equal(flip['gt_maps']['normals'][..., 1:],
                                  out['gt_maps']['normals'][:, ::-1, 1:])
    np.testing.assert_array_equal(flip['gt_maps']['semseg'],
                                  out['gt_maps']['semseg'][:, ::-1])
    assert (flip['gt_maps']['semseg'] == 255).any()


@pytest.mark.parametrize('dtype', [np.uint16, np.uint8, np.int32,
                                   np.float64])
def test_class_mask_matches_isin(dtype):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 60, (9, 11)).astype(dtype)
    classes = frozenset({0, 5, 17, 59, 300})
    expected = np.isin(labels, sorted(classes))
    np.testing.assert_array_equal(class_mask(labels, classes), expected)
    np.testing.assert_array_equal(
        class_mask(np.full((2, 2), 300, dtype=np.uint16), classes), True)


def test_png_binary_lookup_table_matches_threshold(tmp_path):
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = str(tmp_path / 's.png')
    cv2.imwrite(path, grey)
    for threshold in (0.5, 0.2):
        expected = (grey / 255.0 > threshold).astype(np.uint8)
        got = decode_png_binary(path, threshold)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize('dtype', [np.uint8, np.float32, np.int64, bool])
@pytest.mark.parametrize('direction', ['horizontal', 'vertical'])
def test_flip_array_matches_numpy(dtype, direction):
    array = np.arange(5 * 6 * 3).reshape(5, 6, 3).astype(dtype)
    axis = 1 if direction == 'horizontal' else 0
    for sample in (array, array[..., 0]):
        out = flip_array(sample, direction)
        assert out.dtype == sample.dtype and out.flags.c_contiguous
        np.testing.assert_array_equal(out, np.flip(sample, axis))


def test_normal_validity_marks_any_nonzero_component():
    normals = np.zeros((3, 4, 3), np.float32)
    normals[0, 1, 2] = -0.5
    normals[2, 3, 0] = 1e-30
    normals[1, 0] = (0.0, -0.0, 0.0)
    expected = np.any(normals != 0, axis=2).astype(np.uint8)
    got = normal_validity(normals)
    assert got.dtype == np.uint8 and got.shape == (3, 4)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == 2


def test_packed_normals_are_one_float32_chw_copy():
    normals = make_results()['gt_maps']['normals']
    tensor = map_to_tensor(normals, get_task('normals'))
    assert tensor.dtype == torch.float32 and tensor.is_contiguous()
    np.testing.assert_array_equal(tensor.numpy(),
                                  normals.transpose(2, 0, 1))
    tensor[0, 0, 0] = 5.0
    assert normals[0, 0, 0] != 5.0
