"""MultiTaskInferencer: every task's prediction at each image's original
size, from a checkpoint loaded safely, for every method.

Tiny versions of the synthetic configs (tiny Swin, 4-channel heads); the
checkpoints are built models' state dicts. The helpers are shared with
``tests/test_tools/test_infer_tool.py``.
"""
import argparse
import copy
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmmtl.apis import MultiTaskInferencer, collect_inputs
from mmmtl.compat.checkpoint import UnsafeCheckpointError
from mmmtl.engine.checkpoint_check import CheckpointMismatchError
from mmmtl.registry import MODELS
from repo_files import REPO

METHOD_CONFIGS = {
    'full_ft': 'full_ft/full_ft_mtl_swin_t_synthetic.py',
    'vmt': 'vmt/vmt_swin_t_synthetic.py',
    'vmt_lite': 'vmt/vmt_lite_swin_t_synthetic.py',
    'polyhistor': 'polyhistor/polyhistor_swin_t_synthetic.py',
    'polyhistor_lite': 'polyhistor/polyhistor_lite_swin_t_synthetic.py',
    'mtlora': 'mtlora/mtlora_r16_swin_t_synthetic.py',
    'tadformer': 'tadformer/tadformer_r16_swin_t_synthetic.py',
}
TASKS = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')
NUM_CLASSES = dict(semseg=6, human_parts=7)
TINY_SWIN = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                 window_size=2, drop_path_rate=0.0)
#: stem -> (H, W) of the test images; 'grey' is a one-channel PNG.
IMAGE_SIZES = dict(a_wide=(40, 56), b_tall=(70, 30), c_square=(64, 64),
                   grey=(33, 47))


def tiny_config(method: str = 'vmt') -> Config:
    """The synthetic config of ``method`` with a tiny Swin and heads."""
    cfg = Config.fromfile(str(REPO / 'configs' / METHOD_CONFIGS[method]))
    backbone = cfg.model.backbone
    swin = backbone.module if 'module' in backbone else backbone
    swin.update(TINY_SWIN)
    for key, value in dict(bottleneck=4, rank=2, embed_dim=8,
                           hyper_dim=8).items():
        if key in backbone:
            backbone[key] = value
    channels = ([32, 64, 128, 128] if swin.get('out_after_downsample')
                else [16, 32, 64, 128])
    for task in cfg.model.tasks.values():
        task.head.update(in_channels=channels, channels=[4, 4, 4, 4])
    return cfg


def save_checkpoint(cfg: Config, path: Path,
                    seed: int = 0) -> Dict[str, torch.Tensor]:
    """Build and initialise ``cfg``'s model with ``seed``, save it as
    tools/train.py would (``state_dict`` + ``meta``); returns its state."""
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.state_dict()
    torch.save(dict(state_dict=state,
                    meta=dict(experiment_name='tiny_20250101_000000')),
               str(path))
    return state


def write_images(folder: Path) -> Dict[str, Tuple[int, int]]:
    """Random images of :data:`IMAGE_SIZES` (and a file that is not an
    image) in ``folder``; returns :data:`IMAGE_SIZES`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, (height, width) in IMAGE_SIZES.items():
        shape = (height, width) if stem == 'grey' else (height, width, 3)
        cv2.imwrite(str(folder / f'{stem}.png'),
                    rng.integers(0, 256, shape, dtype=np.uint8))
    (folder / 'notes.txt').write_text('not an image')
    return IMAGE_SIZES


def check_maps(maps: Dict[str, np.ndarray], size: Tuple[int, int],
               tasks=TASKS) -> None:
    """Every task at ``size`` in its documented format and range."""
    assert list(maps) == list(tasks)
    for task, array in maps.items():
        if task == 'normals':
            assert array.shape == size + (3, ) and array.dtype == np.float32
            np.testing.assert_allclose(np.linalg.norm(array, axis=2), 1,
                                       atol=1e-4)
            continue
        assert array.shape == size, task
        if task in NUM_CLASSES:
            assert array.dtype == np.int64
            assert 0 <= array.min() and array.max() < NUM_CLASSES[task]
        else:
            assert array.dtype == np.float32 and np.isfinite(array).all()
        if task == 'saliency':
            assert 0 <= array.min() and array.max() <= 1


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """(tiny VMT config, its checkpoint, saved state, image folder)."""
    base = tmp_path_factory.mktemp('inference')
    cfg = tiny_config('vmt')
    state = save_checkpoint(cfg, base / 'vmt.pth')
    write_images(base / 'images')
    return cfg, base / 'vmt.pth', state, base / 'images'


@pytest.fixture(scope='module')
def inferencer(setup):
    cfg, checkpoint, _, _ = setup
    return MultiTaskInferencer(cfg, str(checkpoint), device='cpu')


def test_folder_of_differently_sized_images(inferencer, setup, capsys):
    folder = setup[3]
    results = inferencer(str(folder), batch_size=2, progress=True)
    assert len(results) == len(IMAGE_SIZES)  # notes.txt skipped
    for maps, size in zip(results, IMAGE_SIZES.values()):  # sorted order
        check_maps(maps, size)
    assert '4/4' in capsys.readouterr().err  # the progress bar


def test_checkpoint_weights_are_loaded(inferencer, setup):
    state = setup[2]
    loaded = inferencer.model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key
    assert not inferencer.model.training


def test_paths_lists_and_arrays_give_the_same_maps(inferencer, setup):
    folder = setup[3]
    path = str(folder / 'b_tall.png')
    from_path = inferencer(path)
    image = cv2.imread(path)
    from_array = inferencer(image)
    assert len(from_path) == len(from_array) == 1
    for task in TASKS:
        np.testing.assert_array_equal(from_array[0][task],
                                      from_path[0][task])
    grey = cv2.imread(str(folder / 'grey.png'), cv2.IMREAD_GRAYSCALE)
    mixed = inferencer([image, grey, Path(path)])
    assert [m['semseg'].shape for m in mixed] == [(70, 30), (33, 47),
                                                  (70, 30)]
    np.testing.assert_array_equal(mixed[2]['depth'], from_path[0]['depth'])


def test_resizing_pipeline_and_input_output_size(setup, tmp_path):
    """A test pipeline that resizes (the PASCAL / NYUD configs) and a
    config evaluating at the input size still give original-size maps,
    the same for any batch size."""
    cfg, checkpoint, _, folder = setup
    cfg = copy.deepcopy(cfg)
    cfg.test_dataloader.dataset.pipeline.insert(
        1, dict(type='MultiTaskResize', scale=(32, 32), keep_ratio=False))
    cfg.model.test_cfg = dict(output_size='input')
    inferencer = MultiTaskInferencer(cfg, str(checkpoint), device='cpu')
    one = inferencer(str(folder), batch_size=1)
    three = inferencer(str(folder), batch_size=3)
    for maps_1, maps_3, size in zip(one, three, IMAGE_SIZES.values()):
        check_maps(maps_1, size)
        for task in TASKS:
            if task in NUM_CLASSES:
                agree = (maps_1[task] == maps_3[task]).mean()
                assert agree > 0.999, task
            else:
                np.testing.assert_allclose(maps_1[task], maps_3[task],
                                           atol=1e-4)


def test_tasks_subset_and_unknown_task(setup):
    cfg, checkpoint, _, folder = setup
    inferencer = MultiTaskInferencer(cfg, str(checkpoint), device='cpu',
                                     tasks=['depth', 'semseg'])
    maps = inferencer(str(folder / 'a_wide.png'))[0]
    check_maps(maps, IMAGE_SIZES['a_wide'], tasks=('depth', 'semseg'))
    with pytest.raises(KeyError, match="'edges' is not predicted by this "
                       'model; its tasks are semseg, human_parts'):
        MultiTaskInferencer(cfg, str(checkpoint), device='cpu',
                            tasks=['semseg', 'edges'])


def test_checkpoint_of_another_model_is_refused(setup, tmp_path):
    cfg, _, _, _ = setup
    other = tiny_config('vmt')
    other.model.tasks.semseg.head.out_channels = 21
    save_checkpoint(other, tmp_path / 'other.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'other\.pth does not hold the weights.*'
                       r'heads\.semseg\.cls\.weight \(21, 64, 1, 1\) vs '
                       r'\(6, 64, 1, 1\)'):
        MultiTaskInferencer(cfg, str(tmp_path / 'other.pth'), device='cpu')
    mtlora = tiny_config('mtlora')
    save_checkpoint(mtlora, tmp_path / 'mtlora.pth')
    with pytest.raises(CheckpointMismatchError, match='unexpected keys'):
        MultiTaskInferencer(cfg, str(tmp_path / 'mtlora.pth'), device='cpu')


def test_checkpoint_with_code_is_refused(setup, tmp_path):
    cfg, checkpoint, _, _ = setup
    saved = torch.load(str(checkpoint), weights_only=True)
    saved['meta']['args'] = argparse.Namespace(lr=0.1)
    torch.save(saved, str(tmp_path / 'pickled.pth'))
    with pytest.raises(UnsafeCheckpointError,
                       match=r'pickled\.pth: it holds argparse\.Namespace'):
        MultiTaskInferencer(cfg, str(tmp_path / 'pickled.pth'),
                            device='cpu')
    with pytest.warns(UserWarning, match='unsafe checkpoint loading'):
        inferencer = MultiTaskInferencer(cfg, str(tmp_path / 'pickled.pth'),
                                         device='cpu', unsafe_load=True)
    assert inferencer.tasks == list(TASKS)


def test_missing_checkpoint_and_no_checkpoint(setup, tmp_path):
    cfg, _, _, folder = setup
    with pytest.raises(FileNotFoundError,
                       match=f'checkpoint not found: {tmp_path}/no.pth'):
        MultiTaskInferencer(cfg, str(tmp_path / 'no.pth'), device='cpu')
    with pytest.warns(UserWarning, match=r'no checkpoint given.*random'):
        inferencer = MultiTaskInferencer(cfg, None, device='cpu')
    check_maps(inferencer(str(folder / 'c_square.png'))[0],
               IMAGE_SIZES['c_square'])


def test_input_errors(inferencer, tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=f'input image not found: {tmp_path}/x.png'):
        collect_inputs(str(tmp_path / 'x.png'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match=r'no image files \(.*\.png'
                       rf'.*\) in folder {tmp_path}/empty'):
        collect_inputs(str(tmp_path / 'empty'))
    with pytest.raises(ValueError, match='no input images given'):
        collect_inputs([])
    with pytest.raises(ValueError, match=r'uint8 \(H, W\) or \(H, W, 3\) '
                       r'BGR, got float32 \(4, 4, 3\)'):
        collect_inputs(np.zeros((4, 4, 3), np.float32))
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(ValueError,
                       match=f'cannot read image {tmp_path}/broken.png'):
        inferencer(str(tmp_path / 'broken.png'))
    with pytest.raises(ValueError, match='batch_size must be at least 1'):
        inferencer(np.zeros((8, 8, 3), np.uint8), batch_size=0)


def test_names_are_stems_made_unique(tmp_path):
    for sub in ('x', 'y'):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / 'img.png'),
                    np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'x' / 'img_2.png'),
                np.zeros((4, 4, 3), np.uint8))
    items = collect_inputs([str(tmp_path / 'x'), str(tmp_path / 'y'),
                            np.zeros((4, 4), np.uint8)])
    assert [i.name for i in items] == ['img', 'img_2', 'img_3', 'array_3']
    assert items[3].source.shape == (4, 4, 3)


@pytest.mark.parametrize('method', sorted(METHOD_CONFIGS))
def test_every_method_checkpoint(method, setup, tmp_path):
    """Every method's checkpoint, merged stage outputs (MTLoRA,
    TADFormer) included, predicts every task at the original sizes."""
    folder = setup[3]
    cfg = tiny_config(method)
    save_checkpoint(cfg, tmp_path / f'{method}.pth')
    inferencer = MultiTaskInferencer(cfg, str(tmp_path / f'{method}.pth'),
                                     device='cpu')
    for maps, size in zip(inferencer(str(folder), batch_size=2),
                          IMAGE_SIZES.values()):
        check_maps(maps, size)


def test_unreadable_images_are_skipped_when_asked(inferencer, tmp_path):
    folder = tmp_path / 'images'
    write_images(folder)
    (folder / 'empty.png').write_bytes(b'')
    skipped = []
    with pytest.warns(UserWarning, match=f'skipped {folder}/empty.png: the '
                      r'file is empty \(0 bytes\)'):
        names = [pred.name for pred in inferencer.iter_predictions(
            str(folder), batch_size=2, skipped=skipped)]
    assert names == sorted(IMAGE_SIZES)
    assert [(exc.path, exc.reason) for exc in skipped] == [
        (str(folder / 'empty.png'), 'the file is empty (0 bytes)')]
    with pytest.raises(ValueError, match=f'cannot read image {folder}/'
                       r'empty.png: the file is empty \(0 bytes\)'):
        inferencer(str(folder))  # by default the first one raises
