# The flagship command: VMT-Adapter, Swin-T, PASCAL-Context (4 tasks, 448x448)
#   python tools/train.py configs/vmt_swin_t_pascal.py
# Needs data/PASCALContext (docs/en/dataset_prepare.md) and
# checkpoints/swin_tiny_patch4_window7_224.pth (docs/en/pretrained.md).
_base_ = ['./vmt/vmt_swin_t_pascal.py']
