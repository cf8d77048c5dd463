"""Check ``--cfg-options`` keys against a config before they are merged.

mmengine merges any dotted key: a typo in a top-level key silently adds an
unused entry, one in an intermediate key raises a bare ``TypeError`` or
adds a dict nobody reads. :func:`check_cfg_options` raises a ``KeyError``
naming the key instead, under these rules:

* every intermediate key must exist (a dict key, or an index of a list);
* a top-level key must exist in the config or be one that mmengine's
  ``Runner`` reads (:func:`runner_cfg_keys`); below such a key that the
  config lacks, any key may be added;
* a final key that does not exist is added, unless it is one edit away
  from an existing sibling (two for names of 8 or more characters,
  ignoring case): that is a typo, and the error suggests the sibling.
"""
import difflib
import inspect
from typing import Any, FrozenSet, Iterable, Mapping, Optional

from mmengine.runner import Runner

#: top-level keys the runners read besides the arguments that
#: ``Runner.from_cfg`` passes to ``Runner.__init__``.
EXTRA_RUNNER_KEYS = ('runner_type', 'model_wrapper_cfg',
                     'find_unused_parameters', 'sync_bn', 'compile',
                     'activation_checkpointing', 'efficient_conv_bn_eval',
                     'unsafe_load')
#: most sibling keys listed in an error message.
MAX_LISTED = 20


def runner_cfg_keys() -> FrozenSet[str]:
    """Top-level config keys mmengine's ``Runner`` (and mmmtl's) read."""
    params = inspect.signature(Runner.__init__).parameters
    return frozenset(p for p in params if p not in ('self', 'cfg')) | \
        frozenset(EXTRA_RUNNER_KEYS)


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insertions, deletions,
    substitutions and transpositions of adjacent characters)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1,
                         rows[-1][j - 1] + cost)
            if (i > 1 and j > 1 and a[i - 1] == b[j - 2]
                    and a[i - 2] == b[j - 1]):
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def typo_of(key: str, siblings: Iterable[Any]) -> Optional[str]:
    """The sibling ``key`` is most likely a misspelling of, or None.

    A key of 3 or more characters is a typo of a different sibling one
    edit away (two for keys of 8 or more characters), ignoring case.
    """
    if len(key) < 3:
        return None
    limit = 2 if len(key) >= 8 else 1
    scored = [(edit_distance(key.lower(), s.lower()), s) for s in siblings
              if isinstance(s, str) and s != key]
    if not scored:
        return None
    distance, best = min(scored)
    return best if distance <= limit else None


def _did_you_mean(key: str, candidates: Iterable[Any], prefix: str) -> str:
    """``"; did you mean 'prefix.x'?"`` for the closest candidate, or ''."""
    names = [c for c in candidates if isinstance(c, str)]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not close:
        return ''
    return f'; did you mean {prefix + close[0]!r}?'


def _listing(node: Mapping) -> str:
    """`` (it has: a, b, ...)`` for the keys of ``node``."""
    keys = [str(k) for k in node]
    shown = ', '.join(keys[:MAX_LISTED])
    more = f', ... ({len(keys)} keys)' if len(keys) > MAX_LISTED else ''
    return f' (it has: {shown or "no key"}{more})'


def check_option_key(cfg: Mapping, key: str, source: str) -> None:
    """Raise ``KeyError`` when the dotted ``key`` matches nothing in
    ``cfg`` under the module's rules; ``source`` names the config file."""
    parts = key.split('.')
    node: Any = cfg
    for depth, part in enumerate(parts):
        parent = '.'.join(parts[:depth])
        prefix = parent + '.' if parent else ''
        head = f'--cfg-options key {key!r}'
        if isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                raise KeyError(f'{head}: {parent!r} is a list of '
                               f'{len(node)} item(s), so {part!r} must be an '
                               f'index from 0 to {len(node) - 1}')
            node = node[int(part)]
        elif isinstance(node, Mapping):
            if part in node:
                node = node[part]
                continue
            if depth == 0:
                if part in runner_cfg_keys():
                    return
                raise KeyError(
                    f'{head}: {part!r} is neither a top-level key of '
                    f'{source} nor a key the runner reads' + _did_you_mean(
                        part, list(node) + sorted(runner_cfg_keys()), ''))
            if depth < len(parts) - 1:
                raise KeyError(f'{head}: {parent!r} has no key {part!r}' +
                               _did_you_mean(part, node, prefix) +
                               _listing(node))
            typo = typo_of(part, node)
            if typo is not None:
                raise KeyError(f'{head}: {parent!r} has no key {part!r}; '
                               f'did you mean {prefix + typo!r}?' +
                               _listing(node))
            return
        else:
            raise KeyError(f'{head}: {parent!r} is {node!r} (type '
                           f'{type(node).__name__}), not a dict or list, so '
                           f'it has no key {part!r}; override {parent!r} as '
                           'a whole')


def check_cfg_options(cfg: Mapping, options: Mapping[str, Any],
                      source: str) -> None:
    """Check every key of ``options`` (``--cfg-options``) against ``cfg``.

    Args:
        cfg: the loaded config (a ``Config``'s dict).
        options: dotted key -> value, as mmengine's ``DictAction`` gives.
        source: the config file, for messages.

    Raises:
        KeyError: naming the first key that matches nothing in the config.
    """
    for key in options:
        check_option_key(cfg, key, source)
