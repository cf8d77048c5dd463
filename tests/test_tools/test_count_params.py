"""tools/analysis/count_params.py on the flagship config."""
import json

from repo_files import REPO, load_module


def load_tool():
    return load_module('tools/analysis/count_params.py')


def test_count_params_vmt_swin_t_pascal(tmp_path, capsys):
    tool = load_tool()
    out = tmp_path / 'report.json'
    report = tool.main([str(REPO / 'configs/vmt/vmt_swin_t_pascal.py'),
                        '--out', str(out)])
    # k = 30 over the 12 Swin-T blocks (sum of widths 4416), 4 tasks:
    # D and U weights 2*k*4416, biases 12*k + 4416, gamma/beta 2*k*4*12
    k, widths, blocks, tasks = 30, 4416, 12, 4
    expected = 2 * k * widths + blocks * k + widths + 2 * k * tasks * blocks
    assert report['backbone_trainable'] == expected == 272616
    assert report['backbone_total'] == 27520698
    assert json.loads(out.read_text())['headline'] == expected
    assert '272,616' in capsys.readouterr().out
    mtlora = tool.main([str(REPO / 'configs/vmt/vmt_swin_t_pascal.py'),
                        '--convention', 'mtlora'])
    assert mtlora['headline'] == mtlora['total_trainable'] == \
        expected + mtlora['heads_total']
