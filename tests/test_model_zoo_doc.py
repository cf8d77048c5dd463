"""docs/en/model_zoo.md lists every PASCAL-Context config with the exact
count that config builds."""
import re

import pytest

from repo_files import REPO, load_module

ZOO = (REPO / 'docs/en/model_zoo.md').read_text()
ROWS = {
    m.group(1): int(m.group(2).replace(',', ''))
    for m in re.finditer(r'\| `([\w/]+_swin_t_pascal\.py)` \| [^|]+ \| '
                         r'([\d,]+) \|', ZOO)
}


def test_every_pascal_method_config_is_listed():
    configs = {
        str(p.relative_to(REPO / 'configs'))
        for p in (REPO / 'configs').glob('*/*_swin_t_pascal.py')
        if not p.name.startswith('full_ft_single_')
    }
    assert configs == set(ROWS)


@pytest.mark.parametrize('config', [
    'lora/lora_swin_t_pascal.py', 'compacter/compacter_swin_t_pascal.py',
    'vpt/vpt_deep_swin_t_pascal.py', 'bitfit/bitfit_swin_t_pascal.py'
])
def test_listed_counts_are_what_the_configs_build(config):
    tool = load_module('tools/analysis/count_configs.py')
    row = tool.count_config(str(REPO / 'configs' / config))
    assert row['total_trainable'] == ROWS[config]
