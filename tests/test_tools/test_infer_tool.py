"""tools/infer.py: one command from a checkpoint to pictures of every task.

Checks the files written (names, sizes, colours, raw arrays equal to the
inferencer's), the progress bar, and the user errors: one line, exit
status 2.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmmtl.apis import MultiTaskInferencer
from mmmtl.datasets.synthetic_mt import SyntheticMultiTaskDataset
from mmmtl.visualization import overlay_task_map, render_inference_outputs
from repo_files import REPO, load_module

helpers = load_module('tests/test_apis/test_inference.py')
TASKS, IMAGE_SIZES = helpers.TASKS, helpers.IMAGE_SIZES
OVERLAID = ('semseg', 'human_parts', 'saliency')  # label and binary tasks


class WriteMarker:
    """Unpickling this object creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """(tiny VMT config file, its checkpoint, image folder)."""
    base = tmp_path_factory.mktemp('infer_tool')
    cfg = helpers.tiny_config('vmt')
    cfg.dump(str(base / 'tiny_vmt.py'))
    helpers.save_checkpoint(cfg, base / 'vmt.pth')
    helpers.write_images(base / 'images')
    return base / 'tiny_vmt.py', base / 'vmt.pth', base / 'images'


def infer(args: list):
    return load_module('tools/infer.py').main([str(a) for a in args])


def run_error(args: list, capsys) -> str:
    """Run the tool expecting a user error; returns its stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        infer(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 2, err
    return err


def test_one_command_writes_every_task(setup, tmp_path, capsys):
    config, checkpoint, images = setup
    out = tmp_path / 'out'
    written = infer([config, checkpoint, images, '--out-dir', out,
                     '--overlay', '--grid', '--save-npy', '--batch-size',
                     2, '--device', 'cpu'])
    captured = capsys.readouterr()
    assert '4/4' in captured.err  # the progress bar
    inferencer = MultiTaskInferencer(str(config), str(checkpoint), 'cpu')
    assert captured.out.strip().endswith(
        f'4 image(s), tasks {", ".join(inferencer.tasks)}: {len(written)} '
        f'files in {out}')
    expected = {f'{stem}_{task}.{ext}' for stem in IMAGE_SIZES
                for task in TASKS for ext in ('png', 'npy')}
    expected |= {f'{stem}_{task}_overlay.png' for stem in IMAGE_SIZES
                 for task in OVERLAID}
    expected |= {f'{stem}_grid.png' for stem in IMAGE_SIZES}
    assert {p.name for p in out.iterdir()} == expected
    assert sorted(written) == sorted(str(out / name) for name in expected)
    results = inferencer(str(images), batch_size=2)
    palette = np.array(SyntheticMultiTaskDataset.METAINFO['palette']
                       ['semseg'], np.uint8)
    for (stem, (height, width)), maps in zip(IMAGE_SIZES.items(), results):
        for task in TASKS:
            png = cv2.imread(str(out / f'{stem}_{task}.png'))
            assert png.shape == (height, width, 3), (stem, task)
            np.testing.assert_array_equal(
                np.load(out / f'{stem}_{task}.npy'), maps[task])
        for task in OVERLAID:
            assert cv2.imread(str(out / f'{stem}_{task}_overlay.png')
                              ).shape == (height, width, 3)
        semseg = cv2.imread(str(out / f'{stem}_semseg.png'))[..., ::-1]
        np.testing.assert_array_equal(semseg, palette[maps['semseg']])
        grid = cv2.imread(str(out / f'{stem}_grid.png'))
        # 4 columns, 2 rows (the image and 5 tasks) of (H, W) cells
        assert grid.shape[0] > 2 * height and grid.shape[1] > 4 * width


@pytest.mark.parametrize('batch_size', [1, 3])
def test_unreadable_files_are_skipped_and_the_rest_written(
        setup, tmp_path, capsys, batch_size):
    """A 0-byte PNG and a text file named .jpg among good images: each is
    named in a warning, every good image is written, and the run ends
    with one error line listing the skipped files (exit status 2)."""
    config, checkpoint, images = setup
    folder = tmp_path / 'images'
    shutil.copytree(images, folder)
    (folder / 'a_empty.png').write_bytes(b'')
    (folder / 'z_notes.jpg').write_text('not an image')
    out = tmp_path / 'out'
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        infer([config, checkpoint, folder, '--out-dir', out, '--tasks',
               'depth', '--batch-size', batch_size, '--device', 'cpu'])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    empty = 'the file is empty (0 bytes)'
    not_image = 'cannot decode it (truncated, corrupted or not an image)'
    assert f'warning: skipped {folder}/a_empty.png: {empty}' in captured.err
    assert f'warning: skipped {folder}/z_notes.jpg: {not_image}' \
        in captured.err
    lines = captured.err.strip().splitlines()
    assert lines[-1] == '(set MMMTL_DEBUG=1 for the full traceback)'
    assert lines[-2] == (
        f'error: 2 of 6 image(s) could not be read and were skipped: '
        f'{folder}/a_empty.png ({empty}); {folder}/z_notes.jpg '
        f'({not_image}); the other 4 were written to {out}')
    assert 'Traceback' not in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f'{stem}_depth.png' for stem in IMAGE_SIZES)
    assert captured.out.strip().endswith(
        f'4 image(s), tasks depth: 4 files in {out}')


def test_tasks_option(setup, tmp_path):
    config, checkpoint, images = setup
    out = tmp_path / 'out'
    infer([config, checkpoint, images / 'b_tall.png', '--out-dir', out,
           '--tasks', 'normals', 'depth', '--device', 'cpu'])
    assert sorted(p.name for p in out.iterdir()) == [
        'b_tall_depth.png', 'b_tall_normals.png']


def test_rendering_and_overlays():
    image = np.full((2, 3, 3), 100, np.uint8)
    maps = dict(semseg=np.array([[0, 1, 2], [2, 1, 0]]),
                saliency=np.array([[0, 0.5, 1], [1, 0.5, 0]], np.float32),
                normals=np.dstack([np.zeros((2, 3)), np.zeros((2, 3)),
                                   np.ones((2, 3))]).astype(np.float32))
    palette = np.array([[0, 0, 0], [200, 0, 0], [0, 200, 0]], np.uint8)
    pictures = render_inference_outputs(
        'img', image, maps, dict(semseg=3), dict(semseg=palette),
        overlay=True, grid=True)
    assert sorted(pictures) == [
        'img_grid.png', 'img_normals.png', 'img_saliency.png',
        'img_saliency_overlay.png', 'img_semseg.png',
        'img_semseg_overlay.png']
    np.testing.assert_array_equal(pictures['img_semseg.png'],
                                  palette[maps['semseg']])
    # label maps: half image, half palette colour
    np.testing.assert_array_equal(pictures['img_semseg_overlay.png'][0, 1],
                                  [150, 50, 50])
    # binary maps: weight alpha * p, so p = 0 leaves the image
    saliency = pictures['img_saliency_overlay.png']
    np.testing.assert_array_equal(saliency[0, 0], [100, 100, 100])
    heat = pictures['img_saliency.png'][0, 2].astype(float)
    np.testing.assert_allclose(saliency[0, 2], (100 + heat) / 2, atol=1)
    np.testing.assert_array_equal(pictures['img_normals.png'][0, 0],
                                  [127, 127, 255])
    with pytest.raises(ValueError, match="'normals' .normal. has no overlay"):
        overlay_task_map('normals', image, maps['normals'],
                         pictures['img_normals.png'])


def test_user_errors_are_one_line(setup, tmp_path, capsys):
    config, checkpoint, images = setup
    out = ['--out-dir', tmp_path / 'out', '--device', 'cpu']
    err = run_error([tmp_path / 'no.py', checkpoint, images] + out, capsys)
    assert f'config file not found: {tmp_path}/no.py' in err
    err = run_error([config, tmp_path / 'no.pth', images] + out, capsys)
    assert f'checkpoint not found: {tmp_path}/no.pth' in err
    err = run_error([config, checkpoint, tmp_path / 'no.png'] + out, capsys)
    assert f'input image not found: {tmp_path}/no.png' in err
    (tmp_path / 'empty').mkdir()
    err = run_error([config, checkpoint, tmp_path / 'empty'] + out, capsys)
    assert f'in folder {tmp_path}/empty' in err
    err = run_error([config, checkpoint, images, '--tasks', 'edges'] + out,
                    capsys)
    assert "task 'edges' is not predicted by this model" in err
    err = run_error([config, checkpoint, images, '--cfg-options',
                     'model.tasks.semseg.head.out_channels=21'] + out,
                    capsys)
    assert 'does not hold the weights' in err and 'heads.semseg' in err
    assert not (tmp_path / 'out').exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason='has CUDA')
def test_device_errors_without_cuda(setup, tmp_path, capsys):
    config, checkpoint, images = setup
    args = [config, checkpoint, images, '--out-dir', tmp_path / 'out']
    err = run_error(args + ['--device', 'cuda:0'], capsys)
    assert "device 'cuda:0' asked for, but torch finds no CUDA" in err
    err = run_error(args + ['--device', 'gpu'], capsys)
    assert "unknown device 'gpu'; use cpu, cuda or cuda:N" in err


def test_code_in_checkpoint_needs_unsafe_load(setup, tmp_path, capsys):
    config, checkpoint, images = setup
    saved = torch.load(str(checkpoint), weights_only=True)
    marker = tmp_path / 'marker'
    saved['meta']['payload'] = WriteMarker(marker)
    torch.save(saved, str(tmp_path / 'pickled.pth'))
    args = [config, tmp_path / 'pickled.pth', images / 'grey.png',
            '--out-dir', tmp_path / 'out', '--device', 'cpu']
    err = run_error(args, capsys)
    assert 'refused to load checkpoint' in err and '--unsafe-load' in err
    assert not marker.exists()
    infer(args + ['--unsafe-load'])
    assert marker.exists()
    assert (tmp_path / 'out' / 'grey_depth.png').is_file()


def test_exit_status_from_the_command_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/infer.py'),
         str(REPO / 'configs/vmt/vmt_swin_t_synthetic.py'),
         str(tmp_path / 'missing.pth'), str(tmp_path), '--out-dir',
         str(tmp_path / 'out')],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, MMMTL_DEBUG=''))
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-2:] == [
        f'error: checkpoint not found: {tmp_path}/missing.pth',
        '(set MMMTL_DEBUG=1 for the full traceback)']
