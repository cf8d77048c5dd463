"""VMT-Adapter inside the real MultiTaskSegmentor (tiny sizes)."""
import torch

from mmmtl.models.adapters import param_report
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmengine.structures import PixelData
from toy_backbones import images, tiny_swin

DIMS = [24, 48, 96, 192]


def head(out_channels):
    return dict(type='MultiScaleFusionHead', in_channels=DIMS,
                out_channels=out_channels, channels=(4, 4, 4, 4))


def test_vmt_segmentor_losses_backward_and_report():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskSegmentor',
        backbone=dict(type='VMTAdapter', module=tiny_swin(), bottleneck=8),
        tasks=dict(
            semseg=dict(head=head(5), loss=dict(type='PixelCrossEntropyLoss')),
            normals=dict(head=head(3), loss=dict(type='NormalsL1Loss'),
                         loss_weight=10.0))))
    model.init_weights()
    assert model.backbone.tasks == ('semseg', 'normals')
    x = images(size=32)
    samples = []
    for _ in range(2):
        sample = MultiTaskDataSample()
        normals = torch.nn.functional.normalize(torch.randn(3, 32, 32), dim=0)
        sample.gt_maps = PixelData(
            semseg=torch.randint(0, 5, (1, 32, 32)), normals=normals)
        sample.set_metainfo(dict(img_shape=(32, 32), ori_shape=(32, 32),
                                 pad_shape=(32, 32),
                                 batch_input_shape=(32, 32)))
        samples.append(sample)
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_semseg', 'loss_normals'}
    sum(losses.values()).backward()
    frozen = [p for p in model.backbone.module.parameters()]
    assert all(p.grad is None for p in frozen)
    assert all(p.grad is not None
               for p in model.backbone.adapters.parameters())
    report = param_report(model)
    heads = {t: sum(p.numel() for p in model.heads[t].parameters())
             for t in ('semseg', 'normals')}
    assert report['heads'] == heads
    assert report['total_trainable'] == (report['backbone_trainable'] +
                                         sum(heads.values()))
