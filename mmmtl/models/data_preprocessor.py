"""Multi-task data preprocessor (see docs/en/architecture.md)."""
