# VMT-Adapter-Lite (U = D^T, bottleneck 21) on NYUD-v2.
_base_ = ['./vmt_swin_t_nyud.py']
model = dict(backbone=dict(type='VMTAdapterLite', bottleneck=21))
