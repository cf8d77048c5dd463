# The mission's command: VMT-Adapter on a frozen Swin-T, PASCAL-Context
# (five tasks, 448x448), exactly configs/vmt/vmt_swin_t_pascal.py.
#   python tools/train.py configs/vmt_swin_t_pascal.py
#   python tools/test.py configs/vmt_swin_t_pascal.py CHECKPOINT
# Its own work dir, so it never shares one with the method folder's config
# of the same name (whose default is work_dirs/vmt_swin_t_pascal).
_base_ = ['./vmt/vmt_swin_t_pascal.py']
work_dir = 'work_dirs/vmt_swin_t_pascal_main'
