"""Load the repository's scripts (tools/, test fixtures) as modules in tests.

``tests/`` is on ``sys.path`` because pytest imports ``tests/conftest.py``
from there, so test files can ``from repo_files import REPO, load_module``.
"""
import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_module(relative_path: str) -> ModuleType:
    """Import ``REPO / relative_path`` (e.g. ``'tools/train.py'``)."""
    path = REPO / relative_path
    name = 'repo_' + relative_path.replace('/', '_').removesuffix('.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
