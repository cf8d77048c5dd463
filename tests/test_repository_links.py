"""Every repository path a text file of the repository names exists, the
README links every docs page, and nothing cites the project's private
notes.

Files scanned: ``git ls-files --cached --others --exclude-standard`` (the
tracked files and the new ones not yet committed, never ignored ones) with
a suffix in :data:`TEXT_SUFFIXES` or under ``.ci/``.

A reference is checked when it is

1. a token that starts with a top-level folder of the repository (read
   from the file list: ``configs/``, ``docs/``, ``tools/``, ``mmmtl/``,
   ``tests/``, ``benchmarks/``, ``requirements/``, ``.ci/``), optionally
   after ``./``, and ends in a file name with an extension, in ``/`` or in
   a wildcard; it is read from the repository root. A token inside a
   longer path or a URL (preceded by a word character, ``.``, ``/``,
   ``-``, ``~``, ``$`` or ``@``) is not one. Folders the repository does
   not have (``data/``, ``work_dirs/``, ``checkpoints/``, a user's data)
   are never checked: they are made by the user;
2. in Markdown, the target of a link ``[text](target)`` that is not a URL
   or an anchor, read relative to the Markdown file (``#anchor`` dropped);
3. in a config (``configs/*/*.py`` and deeper), a quoted ``./`` or
   ``../`` path (the ``_base_`` files), read relative to the config.

It must name an existing file or folder, with these readings:

* placeholders ``<task>``, ``{name}`` (an f-string field) and ``*`` stand
  for any characters within one name; the pattern must match a file;
* ``{a,b}`` expands like the shell; every expansion must exist;
* illustrations are skipped: a path with a one-letter name
  (``configs/x/my_cfg.py``, ``docs/en/x.md``) or an all-capitals folder
  (``configs/NAME/``);
* outputs are skipped: a path after an output option on the same line
  (:data:`OUTPUT_OPTIONS`, e.g. ``--out DIR/file.json``) is written, not
  read.

Private notes: a mention of one of :data:`PRIVATE_NOTES` as a Markdown
file or with a section sign (the name, ``.md``), or a relative path into
the ``shared`` folder beside the repository, fails: users do not have
them; cite the paper and the official repository instead.
"""
import os.path as osp
import re
import subprocess
from pathlib import Path
from typing import Iterable, Iterator, List, Set, Tuple

import pytest

from repo_files import REPO

TEXT_SUFFIXES = ('.py', '.md', '.sh', '.txt', '.ini', '.cfg', '.toml',
                 '.yml', '.yaml')
OUTPUT_OPTIONS = ('--out', '--out-dir', '--work-dir', '--show-dir')
PRIVATE_NOTES = ('REFERENCE', 'PAPERS', 'DESIGN', 'ENV')
PRIVATE_RE = re.compile(r'\b(?:%s)(?:\.md\b|\s*§)' % '|'.join(PRIVATE_NOTES)
                        + r'|\.\./shared\b')
LINK_RE = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
RELATIVE_RE = re.compile(r'''['"](\.\.?/[^'"\s]+)['"]''')
WILDCARD_RE = re.compile(r'\*|<[^<>/]*>|\{[^{},/]*\}')
OPTIONS_RE = re.compile(r'(?<![\w-])(?:%s)(?![\w-])' % '|'.join(
    re.escape(option) for option in OUTPUT_OPTIONS))

Reference = Tuple[str, int, str]  # (file, line number, path as written)


def listed_files() -> List[str]:
    """The repository's files (tracked and new, not ignored) that exist."""
    try:
        out = subprocess.run(
            ['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
            cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout', allow_module_level=True)
    return [f for f in out.splitlines() if (REPO / f).is_file()]


FILES = listed_files()
FILE_SET = set(FILES)
DIRS = {str(p) for f in FILES for p in Path(f).parents if str(p) != '.'}
ROOTS = sorted({f.split('/')[0] for f in FILES if '/' in f})
PATH_RE = re.compile(r'(?<![\w./\-~$@])(?:\./)?((?:%s)/[\w./\-*<>{},]*)'
                     % '|'.join(re.escape(root) for root in ROOTS))
TEXT_FILES = [f for f in FILES
              if f.endswith(TEXT_SUFFIXES) or f.startswith('.ci/')]


def lines(path: str) -> Iterator[Tuple[int, str]]:
    text = (REPO / path).read_text(encoding='utf-8', errors='replace')
    return enumerate(text.splitlines(), 1)


def expand_braces(path: str) -> List[str]:
    """Shell brace expansion of ``{a,b}`` groups (fields without a comma
    are left as placeholders)."""
    match = re.search(r'\{([^{}]*,[^{}]*)\}', path)
    if match is None:
        return [path]
    head, tail = path[:match.start()], path[match.end():]
    return [expanded for choice in match.group(1).split(',')
            for expanded in expand_braces(head + choice + tail)]


def is_illustration(path: str) -> bool:
    """A one-letter name or an all-capitals folder: an example path."""
    parts = path.strip('/').split('/')
    folders = parts if path.endswith('/') else parts[:-1]
    return any(len(part.split('.')[0]) == 1 for part in parts) or any(
        len(folder) > 1 and folder.isupper() for folder in folders)


def exists(path: str) -> bool:
    """Whether ``path`` (relative to the root, placeholders allowed) names
    a listed file or folder."""
    path = osp.normpath(path)
    if not WILDCARD_RE.search(path):
        return path in FILE_SET or path in DIRS
    pattern = re.compile(''.join(
        '[^/]*' if WILDCARD_RE.fullmatch(part) else re.escape(part)
        for part in re.split(f'({WILDCARD_RE.pattern})', path)))
    return any(pattern.fullmatch(p) for p in FILE_SET | DIRS)


def is_path_token(token: str) -> bool:
    """Ends in a name with an extension, in ``/`` or in a wildcard."""
    last = token.rsplit('/', 1)[-1]
    return (token.endswith('/') or re.search(r'\.\w+$', last) is not None
            or WILDCARD_RE.search(last) is not None)


def root_paths(path: str, numbered: Iterable[Tuple[int, str]]
               ) -> Iterator[Reference]:
    """Rule 1 references in the ``(number, line)`` pairs of ``path``
    (outputs left out)."""
    for number, line in numbered:
        for match in PATH_RE.finditer(line):
            token = match.group(1).rstrip('.,')
            before = line[:match.start()]
            if OPTIONS_RE.search(before) or not is_path_token(token):
                continue
            yield path, number, token


def relative_refs(path: str, numbered: Iterable[Tuple[int, str]]
                  ) -> Iterator[Reference]:
    """Rules 2 and 3 in the ``(number, line)`` pairs of ``path``:
    Markdown links and quoted relative paths in configs, returned relative
    to the repository root."""
    folder = osp.dirname(path)
    if path.endswith('.md'):
        regex = LINK_RE
    elif path.startswith('configs/') and path.endswith('.py'):
        regex = RELATIVE_RE
    else:
        return
    for number, line in numbered:
        for match in regex.finditer(line):
            target = match.group(1).split('#')[0]
            if not target or '://' in target or target.startswith(
                    'mailto:'):
                continue
            yield path, number, osp.join(folder, target)


def dangling(references: Iterable[Reference]) -> List[str]:
    """``file:line: path`` of each reference that names nothing."""
    missing = []
    for file, number, path in references:
        if is_illustration(path):
            continue
        if not all(exists(p) for p in expand_braces(path)):
            missing.append(f'{file}:{number}: {path}')
    return missing


def test_scan_sees_the_repository():
    assert {'configs', 'docs', 'tools', 'mmmtl', 'tests'} <= set(ROOTS)
    assert 'README.md' in TEXT_FILES and 'tools/train.py' in TEXT_FILES
    assert len(TEXT_FILES) > 100


def test_rules_on_examples():
    assert exists('configs/vmt/vmt_swin_t_pascal.py') and exists('docs/en/')
    assert not exists('configs/' + 'vmt_swin_t_pascal_typo.py')
    assert exists('configs/full_ft/full_ft_single_<task>_swin_t_pascal.py')
    assert exists('tools/{name}.py') and exists('configs/full_ft/*synth*')
    assert not exists('tools/' + '<tool>.sh.missing')
    assert expand_braces('a/swin_{t,s}.py') == ['a/swin_t.py', 'a/swin_s.py']
    assert is_illustration('configs/x/my_cfg.py')
    assert is_illustration('configs/NAME/')
    assert not is_illustration('docs/en/methods/vmt_adapter.md')
    assert is_path_token('tools/train.py') and is_path_token('docs/')
    assert not is_path_token('mmmtl/mmengine')
    assert PATH_RE.search('see https://github.com/x/tools/train.py') is None
    assert OPTIONS_RE.search("add_argument('--out', default=")
    assert not OPTIONS_RE.search('--outfile ')


def test_dangling_references_are_reported():
    line = ('see `docs/en/' + 'nope.md`, `docs/en/x.md`, '
            '[page](methods/' + 'gone.md), tools/train.py --out '
            'benchmarks/results/' + 'new.json')
    refs = [*root_paths('docs/en/a.md', [(3, line)]),
            *relative_refs('docs/en/a.md', [(3, line)])]
    assert dangling(refs) == ['docs/en/a.md:3: docs/en/' + 'nope.md',
                              'docs/en/a.md:3: docs/en/methods/' + 'gone.md']
    config = [(1, "_base_ = ['../_base_/models/swin_t.py', "
                  "'../_base_/' + 'nope.py']")]
    assert dangling(relative_refs('configs/vmt/c.py', config)) == []
    config = [(1, "_base_ = ['../_base_/" + "nope.py']")]
    assert dangling(relative_refs('configs/vmt/c.py', config)) == [
        'configs/vmt/c.py:1: configs/vmt/../_base_/' + 'nope.py']
    assert PRIVATE_RE.search('as in ' + PRIVATE_NOTES[1] + '.md')
    assert PRIVATE_RE.search(PRIVATE_NOTES[0] + ' §2')
    assert PRIVATE_RE.search('../' + 'shared/x')
    assert not PRIVATE_RE.search('shared modules, the reference size')


def test_every_named_repository_path_exists():
    references = (ref for path in TEXT_FILES
                  for ref in (*root_paths(path, lines(path)),
                              *relative_refs(path, lines(path))))
    missing = dangling(references)
    assert not missing, 'paths that are not in the repository:\n' + \
        '\n'.join(missing)


def test_no_private_notes_are_cited():
    found = [f'{path}:{number}: {line.strip()[:100]}'
             for path in TEXT_FILES for number, line in lines(path)
             if PRIVATE_RE.search(line)]
    assert not found, 'files cite notes users do not have:\n' + \
        '\n'.join(found)


def test_readme_links_every_docs_page():
    linked: Set[str] = {osp.normpath(target.split('#')[0])
                        for _, line in lines('README.md')
                        for target in LINK_RE.findall(line)}
    pages = sorted(f for f in FILES
                   if f.startswith('docs/') and f.endswith('.md'))
    assert pages, 'no docs pages found'
    unlinked = [page for page in pages if page not in linked]
    assert not unlinked, f'README.md does not link {unlinked}'
