"""tools/analysis/count_configs.py: counts of many configs in one table."""
import json

from mmmtl.apis import load_config
from mmmtl.models.adapters import param_report
from mmmtl.registry import MODELS
from repo_files import REPO, load_module


def test_rows_equal_the_report_of_each_built_model(tmp_path, capsys):
    tool = load_module('tools/analysis/count_configs.py')
    configs = [str(REPO / 'configs/vmt/vmt_lite_swin_t_synthetic.py'),
               str(REPO / 'configs/bitfit/bitfit_swin_t_synthetic.py')]
    out = tmp_path / 'counts.json'
    rows = tool.main(configs + ['--markdown', '--out', str(out)])
    assert json.loads(out.read_text()) == rows
    table = capsys.readouterr().out
    for config, row in zip(configs, rows):
        report = param_report(MODELS.build(load_config(config).model),
                              convention='mtlora')
        assert row['total_trainable'] == report['total_trainable']
        assert row['backbone_trainable'] == report['backbone_trainable']
        assert f"{row['total_trainable']:,} |" in table
