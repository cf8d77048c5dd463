# VMT-Adapter-Lite (U = D^T, bottleneck 21) on the synthetic dataset.
_base_ = ['./vmt_swin_t_synthetic.py']
model = dict(backbone=dict(type='VMTAdapterLite', bottleneck=21))
