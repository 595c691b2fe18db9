"""modjax: MXNet 1.x's Symbol and Module API on JAX. Use it as ``import modjax as mx``."""
import gc as _gc
import os as _os

# Importing JAX leaves about a million long-lived objects that every full garbage collection
# scans again (tens of milliseconds each, a few of which fall into a program's first batch). The
# import runs with the collector paused and then moves what it created to the permanent
# generation (gc.freeze), as CPython's docs suggest for long-lived startup state; later
# collections scan only the program's own objects. MODJAX_GC_FREEZE=0 leaves the collector alone.
_pause_gc = _gc.isenabled() and _os.environ.get("MODJAX_GC_FREEZE", "1").strip().lower() not in (
    "0", "off", "false", "no")
if _pause_gc:
    _gc.disable()
try:
    from . import config  # noqa: F401  (first: the compilation cache must be set before any compile)
    from . import distributed  # noqa: F401  (second: joins a launched job before JAX's first computation)
    from . import base  # noqa: F401
    from .base import MXNetError  # noqa: F401
    from .context import Context, cpu, gpu, tpu, cpu_pinned, current_context, num_gpus  # noqa: F401
    from . import context, random  # noqa: F401
    from . import ops  # noqa: F401
    from . import ndarray, symbol  # noqa: F401
    from . import symbol as sym  # noqa: F401
    from . import ndarray as nd  # noqa: F401
    from .symbol import naming as name  # noqa: F401
    from .symbol.naming import AttrScope  # noqa: F401
    from . import executor  # noqa: F401

    __version__ = "0.1.0"
    from . import metric, lr_scheduler, initializer, optimizer, model  # noqa: F401,E402
    from . import initializer as init  # noqa: F401,E402
    from . import module  # noqa: F401,E402
    from . import module as mod  # noqa: F401,E402
    from . import io, callback, monitor  # noqa: F401,E402
    from . import monitor as mon  # noqa: F401,E402
    from . import rnn  # noqa: F401,E402
    from . import operator  # noqa: F401,E402  (mx.operator: CustomOp, CustomOpProp, register)
    from . import kvstore  # noqa: F401,E402
    from . import kvstore as kv  # noqa: F401,E402
finally:
    if _pause_gc:
        _gc.freeze()
        _gc.enable()

# The image stack (PIL and the augmenters, ~50 ms to import) loads when first used.
_LAZY = {"recordio": "recordio", "image": "image", "img": "image"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'modjax' has no attribute {name!r}")
    import importlib
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    globals()[name] = module
    return module


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
