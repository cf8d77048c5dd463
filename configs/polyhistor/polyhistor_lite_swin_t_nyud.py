# Polyhistor-Lite on NYUD-v2 (see polyhistor_swin_t_nyud.py).
_base_ = ['./polyhistor_swin_t_nyud.py']
model = dict(backbone=dict(type='PolyhistorLite'))
