"""Installation script of mmmtl (``pip install -e .``)."""
from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name: str) -> list:
    """Return the requirement lines of ``requirements/<name>.txt``."""
    path = Path(__file__).parent / 'requirements' / f'{name}.txt'
    lines = path.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='mmmtl',
    version='0.1.0',
    description='Parameter-efficient multi-task dense prediction on OpenMMLab',
    long_description=Path('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    package_data={'mmmtl.datasets': ['data/*.json']},
    python_requires='>=3.9',
    install_requires=read_requirements('runtime'),
    extras_require=dict(tests=read_requirements('tests')),
    license='Apache-2.0',
)
