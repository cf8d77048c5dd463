"""logits_to_prediction refuses NaN/inf logits instead of turning them into
class 0 (label), NaN probabilities or NaN vectors."""
import pytest
import torch

from mmmtl.models.segmentors import logits_to_prediction

NAN, INF = float('nan'), float('inf')


@pytest.mark.parametrize('kind,channels', [('label', 4), ('binary', 1),
                                           ('normal', 3), ('scalar', 1)])
def test_non_finite_logits_are_refused_naming_the_task(kind, channels):
    logits = torch.zeros(channels, 2, 3)
    logits[0, 0, 0] = NAN
    logits[-1, 1, 2] = -INF
    with pytest.raises(ValueError) as info:
        logits_to_prediction(logits, kind, 'semseg', image='data/img_7.jpg')
    assert str(info.value).startswith(
        "task 'semseg': the model gave non-finite logits for image "
        f'data/img_7.jpg (1 NaN and 1 inf of {channels * 6} values)')


def test_nan_semseg_logits_do_not_become_class_0():
    logits = torch.full((21, 4, 4), NAN)
    assert logits.argmax(dim=0).eq(0).all()  # what used to be scored
    with pytest.raises(ValueError, match=r"^task 'seg': the model gave "
                       r'non-finite logits \(336 NaN and 0 inf'):
        logits_to_prediction(logits, 'label', 'seg')


def test_finite_logits_are_post_processed():
    logits = torch.tensor([[[1.0]], [[3.0]], [[2.0]]])
    assert logits_to_prediction(logits, 'label', 'semseg').tolist() == [[[1]]]
    normal = logits_to_prediction(logits, 'normal', 'normals', image='x')
    assert torch.allclose(normal.norm(dim=0), torch.ones(1, 1))
