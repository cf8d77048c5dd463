"""Adapter-only checkpoints (mmmtl.engine.adapter_checkpoint).

Unit checks on small modules: which entries are trained, the base
fingerprint (values, not devices or wrappers), the loader's refusals.
End to end on a tiny VMT config whose frozen Swin is loaded from a
"pretrained" file: training with ``adapter_only=True`` writes small
checkpoints that ``tools/test.py`` scores exactly as the full ones,
``--resume`` continues from (iteration and optimizer state), that are
refused over other base weights with one line naming both fingerprints and
the pretrained file, and that are still loaded without running code.
"""
import re
import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn

from adapter_checkpoint_setup import write_config, write_pretrained_swin
from mmmtl.compat.checkpoint import load_local_checkpoint
from mmmtl.datasets.synthetic import generate_synthetic_dataset
from mmmtl.engine.adapter_checkpoint import (ADAPTER_ONLY_KEY,
                                             BaseWeightsMismatchError,
                                             adapter_state_dict,
                                             base_fingerprint,
                                             is_adapter_checkpoint,
                                             load_adapter_checkpoint,
                                             make_adapter_only)
from mmmtl.engine.checkpoint_check import (CheckpointMismatchError,
                                           check_checkpoint_fits,
                                           check_resumable)
from mmmtl.engine.trained_state import trained_state_keys
from repo_files import load_module

HEX = r'[0-9a-f]{64}'


class Toy(nn.Module):
    """A frozen 'backbone' (linear + BN, with an extra frozen buffer), a
    trainable adapter (with a parameter-free child holding a buffer) and
    a task head with an ``affine=False`` BN."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        self.backbone.register_buffer('index', torch.arange(4))
        self.backbone.requires_grad_(False)
        self.adapter = nn.Sequential(nn.Linear(2, 2), nn.Module())
        self.adapter[1].register_buffer('mask', torch.ones(2))
        self.heads = nn.ModuleDict(dict(semseg=nn.Sequential(
            nn.Linear(2, 2), nn.BatchNorm1d(2, affine=False))))


TOY_TRAINED = [
    'adapter.0.weight', 'adapter.0.bias', 'adapter.1.mask',
    'heads.semseg.0.weight', 'heads.semseg.0.bias',
    'heads.semseg.1.running_mean', 'heads.semseg.1.running_var',
    'heads.semseg.1.num_batches_tracked'
]


def toy(seed: int = 0) -> Toy:
    torch.manual_seed(seed)
    return Toy()


def toy_checkpoint(model: nn.Module) -> dict:
    checkpoint = dict(meta=dict(iter=1), state_dict=model.state_dict())
    return make_adapter_only(checkpoint, model, 'model = dict()')


def test_trained_entries_are_trainable_parameters_and_their_buffers():
    model = toy()
    assert trained_state_keys(model) == TOY_TRAINED
    assert list(adapter_state_dict(model)) == TOY_TRAINED


def test_fingerprint_covers_frozen_values_only():
    model = toy()
    reference = base_fingerprint(model)
    assert re.fullmatch(HEX, reference)
    with torch.no_grad():
        model.adapter[0].weight.add_(1.0)
        model.heads.semseg[1].running_mean.add_(1.0)
    assert base_fingerprint(model) == reference
    assert base_fingerprint(toy(seed=1)) != reference
    for change in ('backbone.1.running_var', 'backbone.index'):
        other = toy()
        with torch.no_grad():
            other.get_buffer(change)[0] += 1
        assert base_fingerprint(other) != reference, change
    saved = trained_state_keys(model) + ['backbone.index']
    assert base_fingerprint(model, saved) != reference


def test_fingerprint_is_independent_of_memory_layout_and_dtype_safe():
    model = toy()
    reference = base_fingerprint(model)
    weight = model.backbone[0].weight
    weight.data = weight.data.t().contiguous().t()  # same values, strided
    assert not weight.is_contiguous()
    assert base_fingerprint(model) == reference
    model.backbone.register_buffer('flags', torch.tensor([True, False]))
    model.backbone.register_buffer('bf16', torch.ones(3,
                                                      dtype=torch.bfloat16))
    assert base_fingerprint(model) != reference


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_fingerprint_and_keys_are_the_same_inside_ddp():
    model = toy()
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:'
                            f'{_free_port()}', rank=0, world_size=1)
    try:
        wrapped = nn.parallel.DistributedDataParallel(model)
        assert base_fingerprint(wrapped) == base_fingerprint(model)
        assert trained_state_keys(wrapped) == TOY_TRAINED
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_fingerprint_is_the_same_on_gpu():
    model = toy()
    assert base_fingerprint(model.cuda()) == base_fingerprint(model.cpu())


def test_loader_checks_keys_version_and_base():
    checkpoint = toy_checkpoint(toy())
    record = checkpoint['meta'][ADAPTER_ONLY_KEY]
    assert record['saved_keys'] == TOY_TRAINED
    assert record['config'] == 'model = dict()'
    target = toy(seed=5)
    target.backbone.load_state_dict(toy().backbone.state_dict())
    load_adapter_checkpoint(target, checkpoint, 'ok.pth')
    for key, value in toy().state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key

    with pytest.raises(BaseWeightsMismatchError) as err:
        load_adapter_checkpoint(toy(seed=5), checkpoint, 'other.pth')
    message = str(err.value)
    assert '\n' not in message
    fingerprints = re.findall(HEX, message)
    assert fingerprints == [record['base_fingerprint'],
                            base_fingerprint(toy(seed=5))]
    assert 'pretrained: none, a randomly initialised backbone' in message

    damaged = toy_checkpoint(toy())
    del damaged['state_dict']['adapter.1.mask']
    with pytest.raises(CheckpointMismatchError, match='is damaged'):
        load_adapter_checkpoint(toy(), damaged, 'damaged.pth')
    newer = toy_checkpoint(toy())
    newer['meta'][ADAPTER_ONLY_KEY]['format_version'] = 2
    with pytest.raises(CheckpointMismatchError, match='format version 2'):
        load_adapter_checkpoint(toy(), newer, 'newer.pth')


def test_checkpoint_fits_needs_every_trained_entry_of_adapter_files():
    model = toy()
    checkpoint = toy_checkpoint(model)
    for initialised in (True, False):
        check_checkpoint_fits(model, checkpoint, 'a.pth',
                              initialised=initialised)
    frozen_head = toy()
    frozen_head.heads.requires_grad_(False)
    short = toy_checkpoint(frozen_head)
    with pytest.raises(CheckpointMismatchError,
                       match=r"leave unloaded \(5\): heads.semseg.0.weight"):
        check_checkpoint_fits(model, short, 'short.pth', initialised=False)
    wrong = toy_checkpoint(model)
    wrong['state_dict']['adapter.0.bias'] = torch.zeros(3)
    with pytest.raises(CheckpointMismatchError, match='adapter.0.bias'):
        check_checkpoint_fits(model, wrong, 'wrong.pth')


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Two 4-iteration trainings of the same tiny VMT config, with full and
    with adapter-only checkpoints (iterations 2 and 4)."""
    base = tmp_path_factory.mktemp('adapter_ckpt')
    data_root = generate_synthetic_dataset(str(base / 'synthetic'),
                                           num_train=4, num_val=2, size=32)
    pretrained = write_pretrained_swin(base / 'swin_a.pth', seed=0)
    other = write_pretrained_swin(base / 'swin_b.pth', seed=1)
    out = dict(base=base, data_root=data_root, pretrained=pretrained,
               other=other)
    train = load_module('tools/train.py')
    for kind in ('full', 'adapter'):
        cfg = write_config(base / f'tiny_{kind}.py', data_root, pretrained,
                           adapter_only=kind == 'adapter')
        work_dir = base / kind
        train.main([str(cfg), '--work-dir', str(work_dir)])
        out[kind] = (cfg, work_dir)
    return out


def test_training_writes_small_adapter_only_checkpoints(runs):
    full_path = runs['full'][1] / 'iter_4.pth'
    adapter_path = runs['adapter'][1] / 'iter_4.pth'
    full = load_local_checkpoint(str(full_path))
    adapter = load_local_checkpoint(str(adapter_path))
    assert not is_adapter_checkpoint(full)
    assert is_adapter_checkpoint(adapter)
    check_resumable(adapter, str(adapter_path))
    record = adapter['meta'][ADAPTER_ONLY_KEY]
    assert sorted(record['saved_keys']) == sorted(adapter['state_dict'])
    assert record['pretrained'] == [str(runs['pretrained'])]
    assert 'VMTAdapter' in record['config']
    assert not [k for k in adapter['state_dict']
                if k.startswith('backbone.module.')]
    assert {k.split('.')[0] for k in adapter['state_dict']} == {
        'backbone', 'heads'}
    for key, value in adapter['state_dict'].items():
        assert torch.equal(value, full['state_dict'][key]), key
    size_ratio = adapter_path.stat().st_size / full_path.stat().st_size
    assert size_ratio < 0.15
    model_bytes = [sum(v.numel() * v.element_size()
                       for v in c['state_dict'].values())
                   for c in (adapter, full)]
    assert model_bytes[0] / model_bytes[1] < 0.05


def run_tool(tool: str, args: list, capsys) -> tuple:
    """``tools/<tool>.py`` in this process: (result or exit status,
    stderr)."""
    try:
        result = load_module(f'tools/{tool}.py').main(args)
    except SystemExit as exc:
        result = exc.code
    return result, capsys.readouterr().err


def test_test_tool_scores_adapter_only_as_full(runs, tmp_path, capsys):
    scores = {}
    for kind in ('full', 'adapter'):
        cfg, work_dir = runs[kind]
        scores[kind], err = run_tool('test', [
            str(cfg), str(work_dir / 'iter_4.pth'), '--work-dir',
            str(tmp_path / kind)], capsys)
        assert isinstance(scores[kind], dict), err
    assert set(scores['adapter']) == set(scores['full'])
    assert any(v != 0 for v in scores['full'].values())
    for key, value in scores['full'].items():
        assert scores['adapter'][key] == pytest.approx(value, abs=1e-6), key


def test_other_base_weights_are_refused_naming_both(runs, tmp_path, capsys):
    cfg = write_config(tmp_path / 'other_base.py', runs['data_root'],
                       runs['other'])
    adapter_path = runs['adapter'][1] / 'iter_4.pth'
    status, err = run_tool('test', [str(cfg), str(adapter_path),
                                    '--work-dir', str(tmp_path / 'w')],
                           capsys)
    assert status == 2
    line, = [x for x in err.splitlines() if x.startswith('error: ')]
    assert line.startswith(f'error: adapter-only checkpoint {adapter_path} '
                           'was trained on other frozen base weights')
    saved = load_local_checkpoint(str(adapter_path))['meta'][
        ADAPTER_ONLY_KEY]['base_fingerprint']
    fingerprints = re.findall(HEX, line)
    assert fingerprints[0] == saved
    assert fingerprints[1] != saved
    assert f"config's pretrained: {runs['other']}" in line
    assert 'Traceback' not in err


def test_resume_from_adapter_only_restores_iteration_and_optimizer(
        runs, tmp_path):
    cfg, work_dir = runs['adapter']
    runner = load_module('tools/train.py').main([
        str(cfg), '--work-dir', str(tmp_path), '--resume',
        str(work_dir / 'iter_2.pth')])
    assert runner.iter == 4
    resumed = load_local_checkpoint(str(tmp_path / 'iter_4.pth'))
    assert is_adapter_checkpoint(resumed)
    assert resumed['meta']['iter'] == 4
    steps = {float(s['step']) for s in
             resumed['optimizer']['state'].values()}
    assert steps == {4.0}  # 2 restored + 2 new Adam steps
    straight = load_local_checkpoint(str(work_dir / 'iter_4.pth'))
    for key, value in straight['state_dict'].items():
        assert torch.allclose(resumed['state_dict'][key], value,
                              atol=1e-6), key


class WriteMarker:
    """Unpickling this object creates the file ``marker``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


def test_malicious_adapter_only_file_is_refused(runs, tmp_path, capsys):
    cfg, work_dir = runs['adapter']
    checkpoint = load_local_checkpoint(str(work_dir / 'iter_4.pth'))
    marker = tmp_path / 'ran'
    checkpoint['meta']['payload'] = WriteMarker(marker)
    evil = tmp_path / 'evil.pth'
    torch.save(checkpoint, evil)
    status, err = run_tool('test', [str(cfg), str(evil), '--work-dir',
                                    str(tmp_path / 'w')], capsys)
    assert status == 2
    assert f'refused to load checkpoint {evil}' in err
    assert 'builtins.exec' in err
    assert not marker.exists()
