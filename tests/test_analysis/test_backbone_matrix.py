"""docs/en/backbones.md holds exactly the matrix the tool computes, and the
matrix says what the supports promise."""
from pathlib import Path

import pytest

from mmmtl.analysis.backbone_matrix import (FAMILIES, METHODS, build_matrix,
                                            render_markdown)
from mmmtl.utils import register_all_modules

PAGE = Path(__file__).resolve().parents[2] / 'docs/en/backbones.md'


@pytest.fixture(scope='module')
def cells():
    register_all_modules()
    return {(c.method, c.family): c for c in build_matrix()}


def test_page_holds_the_computed_matrix(cells):
    page = PAGE.read_text()
    table = page.split('<!-- matrix:begin -->\n')[1].split(
        '<!-- matrix:end -->')[0]
    assert table == render_markdown(list(cells.values())), (
        'run python tools/analysis/backbone_matrix.py')


def test_every_cell_trains_or_names_what_it_needs(cells):
    assert len(cells) == len(METHODS) * len(FAMILIES)
    for cell in cells.values():
        assert cell.trains or cell.needs, cell
    for family in FAMILIES:
        for method in ('VMTAdapter', 'VMTAdapterLite', 'LoRA', 'DoRA',
                       'BitFit', 'Polyhistor', 'CompacterPlusPlus'):
            assert cells[(method, family)].trains, (method, family)
    assert all(cells[(m, 'mmseg_swin')].trains for m in METHODS)
    for family in ('timm_swin', 'timm_vit'):
        assert cells[('MTLoRA', family)].trains
    assert cells[('TADFormer', 'timm_swin')].needs == 'prompts'
    assert cells[('TADFormer', 'timm_vit')].trains
    assert cells[('MTLoRA', 'timm_convnext')].needs == 'regions'
    assert cells[('VPTDeep', 'timm_vit')].trains
    assert cells[('VPTDeep', 'timm_swin')].needs == 'prompts'
