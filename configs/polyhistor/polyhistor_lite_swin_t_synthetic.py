# Polyhistor-Lite on the synthetic dataset (see
# polyhistor_swin_t_synthetic.py).
_base_ = ['./polyhistor_swin_t_synthetic.py']
model = dict(backbone=dict(type='PolyhistorLite'))
