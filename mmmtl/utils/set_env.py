"""Register every mmmtl (and mmseg) module and set the default scope."""
import datetime

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import all modules so that they register, and set scope ``mmmtl``.

    mmseg's modules are imported too: our registries are its children and
    look up names in it.
    """
    import mmseg.datasets  # noqa: F401
    import mmseg.engine  # noqa: F401
    import mmseg.evaluation  # noqa: F401
    import mmseg.models  # noqa: F401

    import mmmtl.datasets  # noqa: F401
    import mmmtl.engine  # noqa: F401
    import mmmtl.evaluation  # noqa: F401
    import mmmtl.models  # noqa: F401
    import mmmtl.visualization  # noqa: F401

    if init_default_scope:
        current = DefaultScope.get_current_instance()
        if current is None or current.scope_name != 'mmmtl':
            stamp = datetime.datetime.now().isoformat()
            DefaultScope.get_instance(f'mmmtl-{stamp}', scope_name='mmmtl')
