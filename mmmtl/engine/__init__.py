"""Engine: runner hooks."""
from .hooks import *  # noqa: F401,F403
