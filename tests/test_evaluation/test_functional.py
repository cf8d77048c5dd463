"""Δm against the published PASCAL-Context table (MTLoRA / TADFormer)."""
import pytest

from mmmtl.evaluation import delta_m, is_lower_better, relative_changes

SINGLE_TASK = dict(semseg=67.21, human_parts=61.93, saliency=62.35,
                   normals=17.97)
LOWER = {'normals'}


@pytest.mark.parametrize('row, published, tol', [
    ((67.90, 59.84, 65.40, 16.60), 2.55, 0.01),  # MTLoRA r=64
    ((68.19, 58.99, 64.48, 17.03), 1.35, 0.02),  # MTLoRA r=16
    ((67.74, 59.46, 64.90, 16.59), 2.16, 0.02),  # MTLoRA r=32
    ((69.79, 59.27, 65.04, 16.91), 2.44, 0.02),  # TADFormer r=16
    ((70.20, 60.00, 65.71, 16.57), 3.63, 0.02),  # TADFormer r=32
    ((70.82, 60.45, 65.88, 16.48), 4.24, 0.02),  # TADFormer r=64
])
def test_delta_m_matches_published_rows(row, published, tol):
    results = dict(zip(SINGLE_TASK, row))
    assert delta_m(results, SINGLE_TASK, LOWER) == pytest.approx(published,
                                                                 abs=tol)


def test_relative_changes_by_hand():
    changes = relative_changes(dict(semseg=55.0, normals=15.0),
                               dict(semseg=50.0, normals=20.0),
                               dict(semseg=False, normals=True))
    assert changes['semseg'] == pytest.approx(10.0)
    assert changes['normals'] == pytest.approx(25.0)
    assert delta_m(dict(semseg=55.0, normals=15.0),
                   dict(semseg=50.0, normals=20.0),
                   {'normals'}) == pytest.approx(17.5)


def test_single_task_row_is_zero():
    assert delta_m(SINGLE_TASK, SINGLE_TASK, LOWER) == 0


def test_missing_and_zero_baseline_errors():
    with pytest.raises(KeyError, match='depth'):
        delta_m(dict(depth=0.6), dict(semseg=1.0), set())
    with pytest.raises(ValueError, match='depth'):
        delta_m(dict(depth=0.6), dict(depth=0.0), {'depth'})


def test_lower_is_better_names():
    assert all(map(is_lower_better, ('mean', 'median', 'rmse', 'absRel',
                                     'log10')))
    assert not any(map(is_lower_better, ('mIoU', 'maxF', 'maxFbeta', 'odsF',
                                         'delta1', '11.25')))
