# VMT-Adapter-Lite (U = D^T, bottleneck 21) on PASCAL-Context.
_base_ = ['./vmt_swin_t_pascal.py']
model = dict(backbone=dict(type='VMTAdapterLite', bottleneck=21))
