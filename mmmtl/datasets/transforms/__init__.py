"""Multi-task transforms: every task map moves with the image."""
