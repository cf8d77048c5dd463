"""Shared pytest fixtures: registered modules and the mmmtl default scope."""
import pytest

from mmmtl.utils import register_all_modules


@pytest.fixture(autouse=True, scope='session')
def _mmmtl_scope():
    register_all_modules(init_default_scope=True)
