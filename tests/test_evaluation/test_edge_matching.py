"""EdgeMatcher: one-to-one matching of edge pixels within a radius."""
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from mmmtl.evaluation import edge_matching
from mmmtl.evaluation.edge_matching import EdgeMatcher, disk_offsets


def points(shape, coords):
    out = np.zeros(shape, dtype=bool)
    out[tuple(np.array(coords).T)] = True
    return out


def dense_reference(pred, gt, radius):
    """Maximum matching by scipy's Hopcroft-Karp on all pixel pairs."""
    p, g = np.argwhere(pred), np.argwhere(gt)
    if not len(p) or not len(g):
        return 0
    dist = np.hypot(*(p[:, None] - g[None]).transpose(2, 0, 1))
    matching = maximum_bipartite_matching(csr_matrix(dist <= radius),
                                          perm_type='column')
    return int((matching >= 0).sum())


def test_disk_offsets():
    assert sorted(map(tuple, disk_offsets(1.2))) == [
        (-1, 0), (0, -1), (0, 0), (0, 1), (1, 0)]
    assert len(disk_offsets(1.5)) == 9
    assert len(disk_offsets(0.5)) == 1


def test_shift_within_radius_counts_beyond_does_not():
    gt = points((12, 12), [(r, 5) for r in range(10)])
    near = points((12, 12), [(r, 6) for r in range(10)])
    far = points((12, 12), [(r, 8) for r in range(10)])
    matcher = EdgeMatcher(gt, radius=2.0)
    assert matcher.num_gt == 10
    assert matcher.count_matches(near) == 10
    assert matcher.count_matches(far) == 0
    # a diagonal neighbour is sqrt(2) away
    assert EdgeMatcher(gt, 1.2).count_matches(
        points((12, 12), [(r + 1, 6) for r in range(10)])) == 9
    assert EdgeMatcher(gt, 1.5).count_matches(
        points((12, 12), [(r + 1, 6) for r in range(10)])) == 10


def test_two_predictions_near_one_gt_pixel_count_once():
    matcher = EdgeMatcher(points((5, 5), [(2, 2)]), radius=1.0)
    assert matcher.count_matches(points((5, 5), [(2, 1), (2, 3)])) == 1


def test_matching_is_maximum_not_greedy():
    # p1 (0, 3) is nearest to g1 (0, 2) but must take g2 (1, 4) so that
    # p2 (0, 1), which only reaches g1, is matched too
    gt = points((3, 6), [(0, 2), (1, 4)])
    pred = points((3, 6), [(0, 3), (0, 1)])
    assert EdgeMatcher(gt, radius=1.5).count_matches(pred) == 2


def test_empty_maps():
    empty = np.zeros((4, 4), dtype=bool)
    assert EdgeMatcher(empty, 2.0).count_matches(~empty) == 0
    assert EdgeMatcher(~empty, 2.0).count_matches(empty) == 0


@pytest.mark.parametrize('chunk', [1, edge_matching.CHUNK])
def test_random_maps_equal_dense_reference(monkeypatch, chunk):
    monkeypatch.setattr(edge_matching, 'CHUNK', chunk)
    rng = np.random.default_rng(5)
    for _ in range(20):
        shape = tuple(rng.integers(3, 25, size=2))
        gt = rng.random(shape) < 0.2
        pred = rng.random(shape) < 0.3
        radius = float(rng.uniform(0.5, 3.0))
        assert EdgeMatcher(gt, radius).count_matches(pred) == \
            dense_reference(pred, gt, radius)
