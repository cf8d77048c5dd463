"""tools/model_converters/adapter_checkpoint.py and the inferencer on
adapter-only checkpoints.

Tiny VMT and LoRA configs whose frozen Swin is loaded from a "pretrained"
file; the full checkpoints are initialised models whose trained entries
were set to random values. Checks: full -> adapter -> full gives the same
weights; adapter-only files predict exactly as full ones through
``MultiTaskInferencer``; other base weights and malicious files are
refused; ``--merge`` folds LoRA into a plain Swin that computes the same
outputs and prints the config that builds it.
"""
import contextlib
import io

import numpy as np
import pytest
import torch
from mmengine.config import Config

from adapter_checkpoint_setup import (LORA, write_config,
                                      write_pretrained_swin)
from mmmtl.apis import MultiTaskInferencer
from mmmtl.compat.checkpoint import (UnsafeCheckpointError,
                                     load_local_checkpoint)
from mmmtl.engine.adapter_checkpoint import (ADAPTER_ONLY_KEY,
                                             BaseWeightsMismatchError,
                                             is_adapter_checkpoint)
from mmmtl.engine.checkpoint_check import check_checkpoint_fits
from mmmtl.engine.trained_state import trained_state_keys
from mmmtl.registry import MODELS
from repo_files import load_module

HEX = r'[0-9a-f]{64}'


def trained_model(cfg_path, seed: int = 0) -> torch.nn.Module:
    """The config's model, initialised (pretrained Swin), with every
    trained float entry set to random values: N(0, 0.05^2), variances
    U(0.5, 0.6)."""
    model = MODELS.build(Config.fromfile(str(cfg_path)).model)
    model.init_weights()
    gen = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    with torch.no_grad():
        for key in trained_state_keys(model):
            value = state[key]
            if key.endswith('running_var'):
                value.copy_(0.5 + 0.1 * torch.rand(value.shape,
                                                   generator=gen))
            elif value.is_floating_point():
                value.copy_(0.05 * torch.randn(value.shape, generator=gen))
    return model.eval()


def save_full(model, path):
    torch.save(dict(meta=dict(epoch=0, iter=3),
                    state_dict=model.state_dict(),
                    optimizer=dict(state={}, param_groups=[dict(lr=0.5)])),
               path)
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp('adapter_tool')
    pretrained = write_pretrained_swin(base / 'swin_a.pth', seed=0)
    other = write_pretrained_swin(base / 'swin_b.pth', seed=1)
    vmt_cfg = write_config(base / 'vmt.py', base, pretrained)
    model = trained_model(vmt_cfg)
    full = save_full(model, base / 'vmt_full.pth')
    adapter = base / 'vmt_adapter.pth'
    status, out, err = convert([vmt_cfg, full, adapter, '--to', 'adapter'])
    assert status is None, err
    return dict(base=base, pretrained=pretrained, other=other,
                vmt_cfg=vmt_cfg, model=model, full=full, adapter=adapter,
                convert_out=out)


def convert(args: list) -> tuple:
    """Run the converter in this process: (exit status or None, stdout,
    stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            load_module('tools/model_converters/adapter_checkpoint.py').main(
                [str(a) for a in args])
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), without_logging_errors(err.getvalue())


def without_logging_errors(text: str) -> str:
    """``text`` without the "--- Logging error ---" reports that logging
    handlers left on closed streams by earlier tests print (from the line
    itself to its "Arguments:" line)."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith('--- Logging error ---'):
            skipping = True
        elif not skipping:
            kept.append(line)
        elif line.startswith('Arguments:'):
            skipping = False
    return ''.join(kept)


def error_line(err: str) -> str:
    """The tool's one ``error:`` line (stderr may also hold logging noise
    from handlers that earlier tests left on closed streams)."""
    lines = [line for line in err.splitlines() if line.startswith('error: ')]
    assert len(lines) == 1, err
    return lines[0]


def test_full_to_adapter_to_full_keeps_every_weight(files, tmp_path):
    full = load_local_checkpoint(str(files['full']))
    adapter = load_local_checkpoint(str(files['adapter']))
    assert is_adapter_checkpoint(adapter)
    assert sorted(adapter['state_dict']) == sorted(
        trained_state_keys(files['model']))
    assert adapter['optimizer'] == full['optimizer']
    assert adapter['meta']['iter'] == 3
    record = adapter['meta'][ADAPTER_ONLY_KEY]
    assert f"base fingerprint {record['base_fingerprint']}" in \
        files['convert_out']
    ratio = files['adapter'].stat().st_size / files['full'].stat().st_size
    assert ratio < 0.05
    back = tmp_path / 'back.pth'
    status, out, err = convert([files['vmt_cfg'], files['adapter'], back,
                                '--to', 'full'])
    assert status is None, err
    restored = load_local_checkpoint(str(back))
    assert not is_adapter_checkpoint(restored)
    assert ADAPTER_ONLY_KEY not in restored['meta']
    assert restored['optimizer'] == full['optimizer']
    assert list(restored['state_dict']) == list(full['state_dict'])
    for key, value in full['state_dict'].items():
        assert torch.equal(restored['state_dict'][key], value), key


def test_conversions_refuse_wrong_inputs(files, tmp_path):
    out = tmp_path / 'x.pth'
    cases = [
        ([files['adapter'], out, '--to', 'adapter'], 'is adapter-only '
         'already'),
        ([files['full'], out, '--to', 'full'], 'is a full checkpoint '
         'already'),
        ([files['adapter'], out, '--to', 'full', '--cfg-options',
          f"model.backbone.module.pretrained={files['other']}"],
         'was trained on other frozen base weights'),
    ]
    for args, message in cases:
        status, _, err = convert([files['vmt_cfg'], *args])
        assert status == 2, args
        assert message in error_line(err)
        assert 'Traceback' not in err
    assert not out.exists()
    status, _, err = convert([files['vmt_cfg'], files['full'], out])
    assert status == 2
    assert 'exactly one of --to adapter|full and --merge' in err


def test_inferencer_predicts_the_same_from_adapter_only(files):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
              for _ in range(2)]
    cfg = Config.fromfile(str(files['vmt_cfg']))
    outputs = [MultiTaskInferencer(cfg, str(files[kind]), device='cpu')(
        images) for kind in ('full', 'adapter')]
    for full, adapter in zip(*outputs):
        assert set(full) == set(adapter) == {'semseg', 'depth'}
        for task in full:
            assert np.array_equal(full[task], adapter[task]), task
    assert np.ptp(outputs[0][0]['depth']) > 0
    cfg.model.backbone.module.pretrained = str(files['other'])
    with pytest.raises(BaseWeightsMismatchError, match=HEX):
        MultiTaskInferencer(cfg, str(files['adapter']), device='cpu')


class WriteMarker:
    """Unpickling this object creates the file ``marker``."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()', )


def test_malicious_adapter_only_file_is_refused(files, tmp_path):
    checkpoint = load_local_checkpoint(str(files['adapter']))
    marker = tmp_path / 'ran'
    checkpoint['meta'][ADAPTER_ONLY_KEY]['config'] = WriteMarker(marker)
    evil = tmp_path / 'evil.pth'
    torch.save(checkpoint, evil)
    with pytest.raises(UnsafeCheckpointError, match='builtins.exec'):
        MultiTaskInferencer(str(files['vmt_cfg']), str(evil), device='cpu')
    status, _, err = convert([files['vmt_cfg'], evil, tmp_path / 'o.pth',
                              '--to', 'full'])
    assert status == 2
    assert f'refused to load checkpoint {evil}' in err
    assert not marker.exists()


def test_merge_folds_lora_into_a_plain_backbone(files, tmp_path):
    cfg_path = write_config(tmp_path / 'lora.py', tmp_path,
                            files['pretrained'], method=LORA)
    model = trained_model(cfg_path, seed=1)
    full = save_full(model, tmp_path / 'lora_full.pth')
    adapter = tmp_path / 'lora_adapter.pth'
    assert convert([cfg_path, full, adapter, '--to', 'adapter'])[0] is None
    inputs = torch.randn(2, 3, 32, 32, generator=torch.Generator()
                         .manual_seed(0))
    with torch.no_grad():
        expected = model(inputs, mode='tensor')
    qkv = 'stages.0.blocks.0.attn.w_msa.qkv.weight'
    frozen_qkv = model.state_dict()[f'backbone.module.{qkv}']
    for source in (full, adapter):
        merged = tmp_path / f'merged_{source.stem}.pth'
        status, out, err = convert([cfg_path, source, merged, '--merge'])
        assert status is None, err
        snippet = out.split('use it with')[1].split(':\n', 1)[1]
        plain_cfg = tmp_path / 'plain.py'
        plain_cfg.write_text(snippet)
        plain = MODELS.build(Config.fromfile(str(plain_cfg)).model).eval()
        assert type(plain.backbone).__name__ == 'SwinTransformerMTL'
        checkpoint = load_local_checkpoint(str(merged))
        assert 'optimizer' not in checkpoint
        assert not torch.allclose(checkpoint['state_dict'][f'backbone.{qkv}'],
                                  frozen_qkv, atol=1e-4)
        check_checkpoint_fits(plain, checkpoint, str(merged),
                              initialised=False)
        plain.load_state_dict(checkpoint['state_dict'])
        with torch.no_grad():
            got = plain(inputs, mode='tensor')
        for task, logits in expected.items():
            assert torch.allclose(got[task], logits, atol=1e-5), task


def test_merge_refuses_hook_adapters(files, tmp_path):
    status, _, err = convert([files['vmt_cfg'], files['full'],
                              tmp_path / 'm.pth', '--merge'])
    assert status == 2
    assert 'cannot be merged into the plain backbone: hook adapter at' \
        in error_line(err)
    assert not (tmp_path / 'm.pth').exists()
