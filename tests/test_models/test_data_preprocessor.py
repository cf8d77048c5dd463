"""MultiTaskDataPreProcessor: normalisation, padding of images and maps."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def make_sample(height: int, width: int, seed: int) -> tuple:
    """(uint8 image (3, H, W), data sample with four task maps)."""
    gen = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (3, height, width), generator=gen,
                        dtype=torch.uint8)
    normals = torch.nn.functional.normalize(
        torch.randn(3, height, width, generator=gen), dim=0)
    sample = MultiTaskDataSample(metainfo=dict(img_shape=(height, width)))
    sample.gt_maps = PixelData(
        semseg=torch.randint(0, 5, (1, height, width), generator=gen),
        saliency=torch.randint(0, 2, (1, height, width), generator=gen),
        normals=normals,
        depth=torch.rand(1, height, width, generator=gen) + 0.5)
    return img, sample


def build(**kwargs):
    return MODELS.build(dict(type='MultiTaskDataPreProcessor', **kwargs))


def test_normalisation_and_channel_order():
    img, sample = make_sample(4, 5, seed=0)
    out = build(mean=MEAN, std=STD, bgr_to_rgb=True)(
        dict(inputs=[img], data_samples=[sample]))
    expected = (img.numpy()[::-1].astype(np.float32) -
                np.array(MEAN, np.float32)[:, None, None]) / np.array(
                    STD, np.float32)[:, None, None]
    assert out['inputs'].dtype == torch.float32
    assert out['inputs'].shape == (1, 3, 4, 5)
    np.testing.assert_allclose(out['inputs'][0].numpy(), expected, rtol=1e-6)


def test_without_normalisation_casts_to_float_only():
    img, _ = make_sample(4, 5, seed=1)
    out = build()(dict(inputs=[img]))
    assert torch.equal(out['inputs'][0], img.float())
    assert out['data_samples'] is None


def test_training_pads_images_and_every_map_with_ignore_values():
    img_a, sample_a = make_sample(10, 13, seed=2)
    img_b, sample_b = make_sample(12, 9, seed=3)
    originals = [sample_a.gt_maps.clone(), sample_b.gt_maps.clone()]
    out = build(mean=MEAN, std=STD, pad_val=-7, size_divisor=8)(
        dict(inputs=[img_a, img_b], data_samples=[sample_a, sample_b]),
        training=True)
    inputs = out['inputs']
    assert inputs.shape == (2, 3, 16, 16)
    assert torch.all(inputs[0, :, 10:] == -7)
    assert torch.all(inputs[0, :, :, 13:] == -7)
    assert torch.all(inputs[1, :, :, 9:] == -7)
    fill = dict(semseg=255, saliency=255, normals=0.0, depth=0.0)
    for sample, original, (height, width) in zip(out['data_samples'],
                                                 originals, [(10, 13),
                                                             (12, 9)]):
        assert sample.batch_input_shape == (16, 16)
        assert sample.pad_shape == (16, 16)
        gt = sample.gt_maps
        for task, value in fill.items():
            padded = gt.get(task)
            assert padded.shape[-2:] == (16, 16), task
            assert padded.dtype == original.get(task).dtype, task
            assert torch.equal(padded[:, :height, :width],
                               original.get(task)), task
            assert torch.all(padded[:, height:] == value), task
            assert torch.all(padded[:, :, width:] == value), task
    stacked = torch.stack([s.gt_maps.semseg for s in out['data_samples']])
    assert stacked.shape == (2, 1, 16, 16)


def test_test_mode_keeps_map_sizes():
    img, sample = make_sample(8, 8, seed=4)
    sample.gt_maps = PixelData(semseg=torch.zeros(1, 20, 30,
                                                  dtype=torch.int64))
    out = build(size_divisor=32)(dict(inputs=[img], data_samples=[sample]),
                                 training=False)
    assert out['inputs'].shape == (1, 3, 32, 32)
    assert out['data_samples'][0].gt_maps.semseg.shape == (1, 20, 30)
    assert out['data_samples'][0].pad_shape == (32, 32)


def test_training_map_larger_than_batch_names_task():
    img, sample = make_sample(8, 8, seed=5)
    sample.gt_maps = PixelData(depth=torch.ones(1, 20, 30))
    with pytest.raises(ValueError, match="'depth'"):
        build()(dict(inputs=[img], data_samples=[sample]), training=True)


def test_pad_size_and_stacked_inputs():
    img, _ = make_sample(6, 7, seed=6)
    out = build(pad_size=(10, 12))(dict(inputs=img[None]))
    assert out['inputs'].shape == (1, 3, 10, 12)
    assert torch.all(out['inputs'][0, :, 6:] == 0)
    with pytest.raises(ValueError, match='pad_size'):
        build(pad_size=(4, 4))(dict(inputs=[img]))


def test_invalid_arguments():
    with pytest.raises(ValueError, match='bgr_to_rgb'):
        build(bgr_to_rgb=True, rgb_to_bgr=True)
    with pytest.raises(ValueError, match='mean and std'):
        build(mean=MEAN)


def test_outputs_follow_the_module_device():
    preprocessor = build(mean=MEAN, std=STD).to('cpu')
    img, sample = make_sample(4, 4, seed=7)
    out = preprocessor(dict(inputs=[img], data_samples=[sample]), True)
    assert out['inputs'].device == preprocessor.device
    assert out['data_samples'][0].gt_maps.semseg.device == preprocessor.device


def test_packed_pipeline_batch_pads_to_a_stackable_batch():
    from mmengine.dataset import pseudo_collate

    from mmmtl.registry import TRANSFORMS
    pack = TRANSFORMS.build(dict(type='PackMultiTaskInputs'))
    items = []
    for height, width in [(5, 7), (6, 4)]:
        items.append(
            pack(
                dict(img=np.full((height, width, 3), 10, np.uint8),
                     gt_maps=dict(
                         semseg=np.ones((height, width), np.uint8),
                         normals=np.tile(np.float32([0, 0, 1]),
                                         (height, width, 1))))))
    out = build(mean=[10] * 3, std=[2] * 3)(pseudo_collate(items), True)
    assert out['inputs'].shape == (2, 3, 6, 7)
    assert torch.all(out['inputs'][0, :, :5, :7] == 0)
    semseg = torch.stack([s.gt_maps.semseg for s in out['data_samples']])
    normals = torch.stack([s.gt_maps.normals for s in out['data_samples']])
    assert semseg.shape == (2, 1, 6, 7) and normals.shape == (2, 3, 6, 7)
    assert int((semseg == 255).sum()) == 6 * 7 * 2 - 5 * 7 - 6 * 4
    assert int((normals.norm(dim=1) == 0).sum()) == 6 * 7 * 2 - 5 * 7 - 6 * 4
