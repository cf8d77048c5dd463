"""thin: Guo and Hall's thinning, equal to skimage.morphology.thin."""
import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import thin as skimage_thin

from mmmtl.evaluation.thinning import thin


def test_two_pixel_thick_band_becomes_one_line():
    band = np.zeros((6, 8), dtype=bool)
    band[2:4, 1:7] = True
    # by hand: the first subiteration (G3: x1 = 0, or x2 = x3 = 0 and
    # x8 = 1) deletes the whole top row and the lower right corner; the
    # second keeps the line's end points (G2: min(n1, n2) = 1)
    expected = np.zeros_like(band)
    expected[3, 1:6] = True
    np.testing.assert_array_equal(thin(band), expected)


def test_thin_lines_and_isolated_pixels_are_kept():
    lines = np.zeros((7, 9), dtype=bool)
    lines[1, :] = True
    lines[3:, 4] = True
    lines[5, 0] = True
    np.testing.assert_array_equal(thin(lines), lines)
    assert not thin(np.zeros((3, 4), dtype=bool)).any()


@pytest.mark.parametrize('seed', range(4))
def test_equals_skimage_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        shape = tuple(rng.integers(1, 30, size=2))
        mask = rng.random(shape) < rng.random()
        if rng.random() < 0.5:
            mask = ndimage.binary_dilation(mask,
                                           iterations=int(rng.integers(1, 4)))
        np.testing.assert_array_equal(thin(mask), skimage_thin(mask))


def test_equals_skimage_on_thresholded_smooth_map():
    rng = np.random.default_rng(7)
    prob = ndimage.gaussian_filter(rng.random((80, 120)), 3)
    for threshold in np.quantile(prob, [0.1, 0.5, 0.9]):
        np.testing.assert_array_equal(thin(prob >= threshold),
                                      skimage_thin(prob >= threshold))
