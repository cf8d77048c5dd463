"""tools/train.py and tools/test.py on checkpoints that must be refused.

Each refusal exits with status 2 and one line naming the file (and the
keys, tasks or type at fault); a checkpoint of the same config still loads,
and a pickle that would run code never does, through any loading path.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmmtl.compat.checkpoint import load_local_checkpoint
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.registry import MODELS
from repo_files import REPO, load_module

TASKS = ('semseg', 'human_parts', 'saliency', 'normals', 'depth')
SWIN = ('embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], '
        'window_size=2, drop_path_rate=0.0')
VMT = f'bottleneck=4, module=dict({SWIN})'


class WriteMarker:
    """Unpickling this object creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


def write_config(path: Path, data_root: Path, base: str, backbone: str,
                 tasks=TASKS, max_iters: int = 2) -> Path:
    """A tiny version of the synthetic config ``base``."""
    heads = ',\n'.join(
        f'        {t}=dict(head=dict(in_channels=[16, 32, 64, 128], '
        'channels=[4, 4, 4, 4]))' for t in tasks)
    path.write_text(f"""
_base_ = ['{REPO / base}']
model = dict(backbone=dict({backbone}), tasks=dict(
{heads}))
data = dict(data_root='{data_root}', num_train=4, num_val=2, size=32)
train_dataloader = dict(batch_size=2, dataset=data)
val_dataloader = dict(batch_size=2, dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_iters={max_iters}, val_interval=100)
default_hooks = dict(checkpoint=dict(interval={max_iters}))
""")
    return path


def run_main(tool: str, args: list, capsys) -> tuple:
    """Run ``tools/<tool>.py`` in this process: (exit status, stderr).
    ``tools/test.py`` gets a work dir under the test's temporary folder."""
    if tool == 'test' and '--work-dir' not in args:
        args = args + ['--work-dir', Path(args[0]).parent / 'test_work']
    capsys.readouterr()
    try:
        load_module(f'tools/{tool}.py').main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line_error(stderr: str, *parts: str) -> str:
    """The tools' user error: one ``error:`` line plus the debug hint."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith('error: ')]
    assert len(errors) == 1, stderr[-3000:]
    assert 'Traceback' not in stderr
    for part in parts:
        assert part in errors[0], (part, errors[0])
    return errors[0]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Tiny VMT, VMT-Lite and single-task configs; trained VMT and
    single-task checkpoints."""
    base = tmp_path_factory.mktemp('ckpt_errors')
    root = Path(generate_synthetic_dataset(
        str(base / 'synthetic'), num_train=4, num_val=2, size=32))
    vmt = write_config(base / 'tiny_vmt.py', root,
                       'configs/vmt/vmt_swin_t_synthetic.py', VMT)
    lite = write_config(base / 'tiny_vmt_lite.py', root,
                        'configs/vmt/vmt_lite_swin_t_synthetic.py', VMT)
    single = write_config(
        base / 'tiny_single_semseg.py', root,
        'configs/full_ft/full_ft_single_semseg_swin_t_synthetic.py',
        f'_delete_=True, **dict(_base_.synthetic_swin_t, {SWIN})',
        tasks=('semseg', ), max_iters=1)
    train = load_module('tools/train.py')
    train.main([str(vmt), '--work-dir', str(base / 'vmt')])
    train.main([str(single), '--work-dir', str(base / 'single')])
    return dict(base=base, vmt=vmt, lite=lite,
                vmt_ckpt=base / 'vmt' / 'iter_2.pth',
                single_ckpt=base / 'single' / 'iter_1.pth')


def edited_checkpoint(setup, path: Path, edit) -> Path:
    """The VMT checkpoint after ``edit(checkpoint)``, saved to ``path``."""
    checkpoint = load_local_checkpoint(str(setup['vmt_ckpt']))
    edit(checkpoint)
    torch.save(checkpoint, path)
    return path


def test_single_task_checkpoint_on_vmt_config(setup, capsys):
    code, err = run_main('test', [setup['vmt'], setup['single_ckpt']],
                         capsys)
    assert code == 2
    assert_one_line_error(
        err, f'checkpoint {setup["single_ckpt"]} does not hold the weights',
        "saved from config 'tiny_single_semseg'",
        "checkpoint tasks ['semseg']",
        "model tasks ['depth', 'human_parts', 'normals', 'saliency', "
        "'semseg']", "no weights for the heads of tasks ['depth', "
        "'human_parts', 'normals', 'saliency']",
        'entries of the uninitialised model it would leave unloaded (',
        'unexpected keys (77): backbone.')


def test_vmt_checkpoint_on_vmt_lite_config(setup, capsys):
    code, err = run_main('test', [setup['lite'], setup['vmt_ckpt']], capsys)
    assert code == 2
    assert_one_line_error(
        err, f'checkpoint {setup["vmt_ckpt"]} does not hold the weights',
        "saved from config 'tiny_vmt'", 'unloaded (4): backbone.adapters.',
        'unexpected keys (8): backbone.adapters.')


def test_checkpoint_without_weights(setup, capsys):
    path = setup['base'] / 'a1.pth'
    torch.save({'a': 1}, path)
    code, err = run_main('test', [setup['vmt'], path], capsys)
    assert code == 2
    assert_one_line_error(err, f'checkpoint {path} holds no model weights',
                          "entries ['a']")


@pytest.mark.parametrize('content', [b'', os.urandom(4096)])
def test_unreadable_checkpoint_file(setup, content):
    path = setup['base'] / 'garbage.pth'
    path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/test.py'), str(setup['vmt']),
         str(path), '--work-dir', str(setup['base'] / 'garbage_test')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, f'cannot read checkpoint {path}: ',
                          'written by torch.save')


def _drop_head_key(checkpoint):
    del checkpoint['state_dict']['heads.depth.cls.weight']


def _grow_head_tensor(checkpoint):
    checkpoint['state_dict']['heads.depth.cls.weight'] = \
        torch.zeros(1, 1, 1, 1)


@pytest.mark.parametrize('edit, expected', [
    (_drop_head_key, 'entries of the uninitialised model it would leave '
     'unloaded (1): heads.depth.cls.weight'),
    (_grow_head_tensor, 'shape mismatches, checkpoint vs model (1): '
     'heads.depth.cls.weight (1, 1, 1, 1) vs')])
def test_missing_head_key_or_shape_mismatch(setup, capsys, edit, expected):
    path = edited_checkpoint(setup, setup['base'] / 'edited.pth', edit)
    code, err = run_main('test', [setup['vmt'], path], capsys)
    assert code == 2
    assert_one_line_error(err, str(path), expected)


def without_frozen_entries(setup) -> tuple:
    """The VMT checkpoint without the frozen backbone entries."""
    model = MODELS.build(Config.fromfile(setup['vmt']).model)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith('backbone.module.') for n in frozen)

    def drop_frozen(checkpoint):
        for name in frozen:
            del checkpoint['state_dict'][name]

    path = setup['base'] / 'no_frozen.pth'
    return edited_checkpoint(setup, path, drop_frozen), frozen


def test_frozen_entries_may_be_missing_when_training(setup, capsys):
    """load_from in training: init_weights ran, frozen weights keep it."""
    path, _ = without_frozen_entries(setup)
    code, err = run_main('train', [
        setup['vmt'], '--work-dir', setup['base'] / 'no_frozen_train',
        '--cfg-options', f'load_from={path}'], capsys)
    assert code == 0, err[-3000:]


def test_test_tool_needs_every_entry(setup, capsys):
    """tools/test.py does not initialise: a frozen entry left unloaded
    would be evaluated with its constructor value."""
    path, frozen = without_frozen_entries(setup)
    code, err = run_main('test', [setup['vmt'], path], capsys)
    assert code == 2
    assert_one_line_error(
        err, str(path), 'entries of the uninitialised model it would leave '
        f'unloaded ({len(frozen)}): {frozen[0]}')


def test_resume_from_weights_only_checkpoint(setup, capsys):
    path = setup['base'] / 'weights_only.pth'
    weights = load_local_checkpoint(str(setup['vmt_ckpt']))['state_dict']
    torch.save(dict(state_dict=weights), path)
    code, err = run_main('train', [setup['vmt'], '--work-dir',
                                   setup['base'] / 'resume_weights',
                                   '--resume', path], capsys)
    assert code == 2
    assert_one_line_error(err, f'cannot resume from checkpoint {path}',
                          'no meta, message_hub')


def malicious_checkpoint(setup, name: str):
    """The VMT checkpoint with a marker-writing object in its meta."""
    marker = setup['base'] / f'{name}.ran'
    path = edited_checkpoint(
        setup, setup['base'] / f'{name}.pth',
        lambda ckpt: ckpt['meta'].update(payload=WriteMarker(marker)))
    return path, marker


def pretrained_init_config(setup, ckpt: Path) -> Path:
    """The VMT config with ``model.init_cfg`` Pretrained from ``ckpt``."""
    path = setup['base'] / 'pretrained_init.py'
    path.write_text(f"_base_ = ['{setup['vmt']}']\nmodel = dict(init_cfg="
                    f"dict(type='Pretrained', checkpoint='{ckpt}'))\n")
    return path


LOADING_PATHS = {
    'resume': lambda setup, ckpt: [setup['vmt'], '--resume', ckpt],
    'load_from': lambda setup, ckpt: [
        setup['vmt'], '--cfg-options', f'load_from={ckpt}'],
    'init_cfg': lambda setup, ckpt: [pretrained_init_config(setup, ckpt)],
    'swin_pretrained': lambda setup, ckpt: [
        setup['vmt'], '--cfg-options',
        f'model.backbone.module.pretrained={ckpt}'],
}


@pytest.mark.parametrize('how', sorted(LOADING_PATHS))
def test_malicious_pickle_does_not_run_through_train(setup, capsys, how):
    path, marker = malicious_checkpoint(setup, f'evil_{how}')
    code, err = run_main('train', LOADING_PATHS[how](setup, path) + [
        '--work-dir', setup['base'] / f'evil_{how}_work'], capsys)
    assert code == 2
    assert_one_line_error(err, f'refused to load checkpoint {path}',
                          'builtins.exec', '--unsafe-load')
    assert not marker.exists()


def test_malicious_pickle_does_not_run_through_test_tool(setup):
    path, marker = malicious_checkpoint(setup, 'evil_test')
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/test.py'), str(setup['vmt']),
         str(path), '--work-dir', str(setup['base'] / 'evil_test_work')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, f'refused to load checkpoint {path}',
                          'builtins.exec')
    assert not marker.exists()


def test_unsafe_load_opt_in_runs_the_trusted_file(setup, capsys):
    path, marker = malicious_checkpoint(setup, 'trusted')
    code, err = run_main('test', [setup['vmt'], path, '--unsafe-load',
                                  '--work-dir', setup['base'] / 'trusted'],
                         capsys)
    assert code == 0, err[-3000:]
    assert marker.exists()


def test_resume_does_not_run_config_code_from_meta(setup, capsys):
    """mmengine's resume executes ``meta['config']`` as a Python config."""
    marker = setup['base'] / 'meta_config.ran'
    path = edited_checkpoint(
        setup, setup['base'] / 'meta_config.pth',
        lambda ckpt: ckpt['meta'].update(
            config=f'open({str(marker)!r}, "w").close()\ngpu_ids = [0]'))
    code, err = run_main('train', [setup['vmt'], '--work-dir',
                                   setup['base'] / 'meta_config_work',
                                   '--resume', path], capsys)
    assert code == 0, err[-3000:]
    assert not marker.exists()
