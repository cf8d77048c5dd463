"""Convert checkpoints between full, adapter-only and merged forms.

    python tools/model_converters/adapter_checkpoint.py CONFIG IN OUT
        --to adapter|full [--merge] [--cfg-options k=v ...] [--unsafe-load]

- ``--to adapter``: a full checkpoint of CONFIG -> adapter-only (the
  trained entries, the fingerprint of the frozen base taken from IN, the
  config text). CONFIG tells which entries are trained; the pretrained
  file is not needed.
- ``--to full``: an adapter-only checkpoint -> full: the model is built
  from CONFIG and initialised with its pretrained backbone, which must be
  the one the adapters were trained on (fingerprint checked).
- ``--merge``: a full or adapter-only checkpoint of a method whose adapters
  fold into the backbone weights (LoRA-type replacement sites) -> a full
  checkpoint of the plain, unadapted model; prints the config snippet
  that builds that model.

Training state (optimizer, schedulers, message hub) is kept by ``--to``
and dropped by ``--merge``. Checkpoints are read without running code
from them (``--unsafe-load``: trusted files only). Errors are one line,
exit status 2. See docs/en/checkpoints.md.
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner.checkpoint import weights_to_cpu  # noqa: E402
from torch import nn  # noqa: E402

from mmmtl.apis import exit_on_user_error, load_config  # noqa: E402
from mmmtl.apis.runner_setup import replace_sync_bn  # noqa: E402
from mmmtl.engine.adapter_checkpoint import (  # noqa: E402
    ADAPTER_ONLY_KEY, is_adapter_checkpoint, load_checkpoint_into,
    make_adapter_only)
from mmmtl.engine.atomic_files import commit, temp_name  # noqa: E402
from mmmtl.engine.checkpoint_check import check_checkpoint_fits  # noqa: E402
from mmmtl.registry import MODELS  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert checkpoints between full, adapter-only and '
        'merged forms')
    parser.add_argument('config', help='config file of the checkpoint')
    parser.add_argument('input', help='checkpoint to convert')
    parser.add_argument('output', help='checkpoint to write')
    parser.add_argument('--to', choices=('adapter', 'full'),
                        help='adapter: full -> adapter-only; full: '
                        'adapter-only -> full')
    parser.add_argument(
        '--merge', action='store_true',
        help='fold the adapters into the backbone weights and write a full '
        'checkpoint of the plain model (prints its config snippet)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='UNSAFE: fully unpickle a checkpoint that holds types other '
        'than weights and mmengine training state; this runs code from the '
        'file, so use it only for files you trust')
    args = parser.parse_args(argv)
    if args.merge == (args.to is not None):
        parser.error('give exactly one of --to adapter|full and --merge')
    return args


def build_model(model_cfg: dict) -> nn.Module:
    """The model of ``model_cfg`` (SyncBN as BN: same weights, no CUDA
    needed)."""
    model_cfg = copy.deepcopy(model_cfg)
    replace_sync_bn(model_cfg)
    return MODELS.build(model_cfg)


def save(checkpoint: dict, path: str) -> None:
    """``torch.save`` through a temporary file renamed into place."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temp = osp.join(directory, temp_name(osp.basename(path)))
    torch.save(checkpoint, temp)
    commit(temp, path)


def to_adapter(cfg: Config, model: nn.Module, checkpoint: dict) -> dict:
    """Full -> adapter-only (``model`` holds the checkpoint's weights)."""
    checkpoint['state_dict'] = model.state_dict()
    return make_adapter_only(checkpoint, model, cfg.pretty_text)


def to_full(model: nn.Module, checkpoint: dict) -> dict:
    """Adapter-only -> full (``model`` holds base and adapters)."""
    checkpoint['state_dict'] = weights_to_cpu(model.state_dict())
    checkpoint['meta'].pop(ADAPTER_ONLY_KEY)
    return checkpoint


def plain_model_cfg(cfg: Config) -> dict:
    """The model config with the adapted backbone replaced by the backbone
    it wraps (``model.backbone.module``).

    Raises:
        ValueError: the backbone is not an adapted one.
    """
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    inner = model_cfg['backbone'].get('module')
    if not isinstance(inner, dict):
        raise ValueError(
            f"--merge needs an adapted backbone (model.backbone.module); "
            f"this config's backbone is {model_cfg['backbone'].get('type')}")
    model_cfg['backbone'] = inner
    return model_cfg


def merge(cfg: Config, model: nn.Module, checkpoint: dict,
          output: str) -> tuple:
    """Fold the adapters into the backbone: (full checkpoint of the plain
    model, its config snippet).

    Raises:
        ValueError: the method has adapters that cannot be merged (naming
            them), or the merged weights do not fit the plain model.
    """
    try:
        model.backbone = model.backbone.merge_adapters()
    except (AttributeError, TypeError) as err:
        raise ValueError(f'cannot merge the adapters of {cfg.filename}: '
                         f'{err}') from None
    plain_cfg = plain_model_cfg(cfg)
    merged = dict(meta={k: v for k, v in checkpoint.get('meta', {}).items()
                        if k != ADAPTER_ONLY_KEY},
                  state_dict=weights_to_cpu(model.state_dict()))
    plain = build_model(plain_cfg)
    check_checkpoint_fits(plain, merged, output, initialised=False)
    plain.load_state_dict(merged['state_dict'])
    base = osp.abspath(cfg.filename) if cfg.filename else 'YOUR_CONFIG.py'
    body = Config(dict(model=dict(backbone=dict(
        _delete_=True, **plain_cfg['backbone'])))).pretty_text
    snippet = f"_base_ = ['{base}']\n{body}"
    return merged, snippet


def _size(path: str) -> str:
    return f'{osp.getsize(path) / 2**20:.2f} MiB'


@exit_on_user_error
def main(argv=None) -> Optional[str]:
    """Run the tool; returns the plain-model config snippet (``--merge``)
    or None."""
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    cfg = load_config(args.config, args.cfg_options)
    if not osp.isfile(args.input):
        raise FileNotFoundError(f'checkpoint not found: {args.input}')
    model = build_model(cfg.model)
    checkpoint = load_checkpoint_into(model, args.input, args.unsafe_load)
    adapter_only = is_adapter_checkpoint(checkpoint)
    snippet = None
    if args.merge:
        checkpoint, snippet = merge(cfg, model, checkpoint, args.output)
    elif args.to == 'adapter':
        if adapter_only:
            raise ValueError(f'{args.input} is adapter-only already')
        checkpoint = to_adapter(cfg, model, checkpoint)
    else:
        if not adapter_only:
            raise ValueError(f'{args.input} is a full checkpoint already')
        checkpoint = to_full(model, checkpoint)
    save(checkpoint, args.output)
    kind = 'merged plain-model' if args.merge else (
        'adapter-only' if args.to == 'adapter' else 'full')
    print(f'wrote the {kind} checkpoint {args.output} '
          f'({_size(args.output)}; {args.input}: {_size(args.input)})')
    if args.to == 'adapter':
        record = checkpoint['meta'][ADAPTER_ONLY_KEY]
        print(f"base fingerprint {record['base_fingerprint']}")
    if snippet is not None:
        print('config of the plain model (save it as a .py file and use it '
              f'with {args.output}):\n{snippet}')
    return snippet


if __name__ == '__main__':
    main()
