"""BitFit, relative-position bias tuning and decoder-only tuning on mmseg
Swin: trainable sets and counts by hand, identity, training, counts."""
import copy
import re

import pytest
import torch

from mmmtl.models.adapters import param_report
from mmmtl.registry import MODELS
from tiny_segmentor import segmentor, train
from toy_backbones import images, tiny_swin

TASKS = ('semseg', 'normals')
KINDS = ('BitFit', 'RelPosBiasTuning', 'DecoderOnly')
WIDTHS = [24, 24, 48, 48, 96, 96, 192, 192]  # tiny Swin, two blocks a stage
HEADS = [1, 1, 2, 2, 2, 2, 4, 4]
TABLE = 'attn.w_msa.relative_position_bias_table'


def build(kind, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dict(type=kind, module=tiny_swin(), tasks=TASKS,
                              **kwargs))
    model.init_weights()
    return model


def tables():
    return [f'stages.{i}.blocks.{j}.{TABLE}' for i in range(4)
            for j in range(2)]


def test_bitfit_trains_every_bias_term_but_not_the_bias_tables():
    model = build('BitFit')
    names = model.trainable_names
    everything = [n for n, _ in model.module.named_parameters()]
    assert names == [n for n in everything if n.endswith('.bias')]
    for table in tables():
        assert re.search('bias', table)  # what a bare pattern would catch
        assert table not in names
    assert 'stages.0.blocks.0.norm1.bias' in names  # LayerNorm biases too
    assert 'stages.0.downsample.norm.bias' in names
    assert 'patch_embed.projection.bias' in names
    assert not any(n.endswith('.weight') for n in names)
    # per block: qkv 3d, proj d, fc1 4d, fc2 d, norm1 d, norm2 d; patch
    # embedding conv + norm 2 * 24; merging norms 4d (d = 24, 48, 96);
    # output norms 24 + 48 + 96 + 192
    expected = 11 * sum(WIDTHS) + 2 * 24 + 4 * (24 + 48 + 96) + 360
    assert expected == 9000
    report = param_report(model)
    assert report['backbone_trainable'] == report['wrapped_trainable'] == \
        expected
    assert report['adapters'] == 0


def test_relpos_tuning_trains_only_the_bias_tables():
    model = build('RelPosBiasTuning')
    assert model.trainable_names == tables()
    window = 4
    expected = (2 * window - 1)**2 * sum(HEADS)
    assert expected == 882
    assert param_report(model)['backbone_trainable'] == expected


def test_decoder_only_freezes_the_whole_backbone():
    model = build('DecoderOnly')
    assert model.trainable_names == [] and len(model.adapters) == 0
    assert not any(p.requires_grad for p in model.parameters())
    assert param_report(model)['backbone_trainable'] == 0


def test_trainable_argument_extends_the_method():
    model = build('BitFit', trainable=['relative_position_bias_table'])
    assert param_report(model)['backbone_trainable'] == 9000 + 882
    model = build('DecoderOnly', trainable=[r'^norm3\.'])
    assert model.trainable_names == ['norm3.weight', 'norm3.bias']


@pytest.mark.parametrize('kind', KINDS)
def test_plain_backbone_outputs_and_state_dict_keys(kind):
    model = build(kind).eval()
    plain = MODELS.build(tiny_swin())
    plain.load_state_dict(model.module.state_dict())
    plain.eval()
    x = images()
    outs = model(x)
    assert isinstance(outs, list) and not model.emits_task_features
    for a, b in zip(outs, plain(x)):
        assert torch.equal(a, b)
    assert list(model.module.state_dict()) == list(plain.state_dict())
    assert model.merge_adapters() is model.module


@pytest.mark.parametrize('kind', KINDS)
def test_short_training_lowers_the_loss_and_moves_only_the_chosen(kind):
    model = segmentor(kind)
    backbone = model.backbone.module
    before = copy.deepcopy(dict(backbone.named_parameters()))
    first, last = train(model)
    assert last < 0.8 * first
    moved = {n for n, p in backbone.named_parameters()
             if not torch.equal(p, before[n])}
    if kind == 'BitFit':
        assert moved and all(n.endswith('.bias') for n in moved)
        assert 'stages.3.blocks.1.ffn.layers.1.bias' in moved
        assert 'stages.0.blocks.0.norm1.bias' in moved
    elif kind == 'RelPosBiasTuning':
        assert moved == set(tables())
    else:
        assert moved == set()


def test_swin_t_counts_match_hand_derivation():
    """The PASCAL configs' counts (four decoders: 1,801,472)."""
    head = dict(type='MultiScaleFusionHead', in_channels=[96, 192, 384, 768])
    tasks = {t: dict(head=dict(head, out_channels=o),
                     loss=dict(type='PixelCrossEntropyLoss'))
             for t, o in dict(semseg=21, human_parts=7, saliency=1,
                              normals=3).items()}
    widths = [96] * 2 + [192] * 2 + [384] * 6 + [768] * 2
    heads = [3] * 2 + [6] * 2 + [12] * 6 + [24] * 2
    bitfit = (11 * sum(widths) + 2 * 96 + 4 * (96 + 192 + 384) +
              (96 + 192 + 384 + 768))
    relpos = 13**2 * sum(heads)  # window 7
    for kind, backbone, total in (('BitFit', bitfit, 1_854_368),
                                  ('RelPosBiasTuning', relpos, 1_824_794),
                                  ('DecoderOnly', 0, 1_801_472)):
        model = MODELS.build(dict(
            type='MultiTaskSegmentor', tasks=tasks,
            backbone=dict(type=kind, module=dict(type='SwinTransformerMTL'))))
        report = param_report(model, 'mtlora')
        assert report['backbone_trainable'] == backbone
        assert report['total_trainable'] == total == backbone + 1_801_472
