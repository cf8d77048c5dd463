# DINOv2 ViT-S/14 and ViT-B/14 (Oquab et al., 2023) through timm
# (TimmMultiScaleBackbone; docs/en/backbones.md): patch 14, 448x448 inputs
# (a 32x32 token grid; the 518x518 pretraining position embedding is
# resampled when the checkpoint loads, and dynamic_img_size interpolates it
# for other input sizes), taps after blocks 3/6/9/12 feeding a ViTDet-style
# simple feature pyramid (one tap per level). The pyramid is new and always
# trains. Set checkpoint to the timm file of docs/en/pretrained.md.
dinov2_vit_s = dict(
    type='TimmMultiScaleBackbone',
    model_name='vit_small_patch14_dinov2',
    out_indices=(2, 5, 8, 11),
    model_kwargs=dict(img_size=448, dynamic_img_size=True,
                      drop_path_rate=0.1))
pretrained_dinov2_vit_s = dict(
    dinov2_vit_s,
    checkpoint='checkpoints/vit_small_patch14_dinov2.lvd142m.safetensors')
dinov2_vit_b = dict(dinov2_vit_s, model_name='vit_base_patch14_dinov2')
pretrained_dinov2_vit_b = dict(
    dinov2_vit_b,
    checkpoint='checkpoints/vit_base_patch14_dinov2.lvd142m.safetensors')
