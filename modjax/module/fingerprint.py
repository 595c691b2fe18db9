"""Fingerprints of the programs a Module compiles, computed without tracing them.

JAX's persistent cache keys an executable by its lowered HLO, so every process must trace and
lower a program before it can look it up. The executable store (:mod:`.exec_store`) keys it
instead by what the program is made of: the Python function handed to ``jax.jit`` and,
recursively, the values its closure captures (the symbol graph, the optimizer's
hyper-parameters, ...), the shapes, dtypes and shardings of its arguments, and the environment
(modjax's own source, JAX and jaxlib versions, backend, device kinds, JAX's tracing flags).

The walk fails closed: anything it cannot describe for certain (code from outside modjax and
the libraries whose versions are in the key, an object with no stable description, a jax array
captured as a constant, a cycle) raises :class:`Unfingerprintable`, and that executable is just
compiled as before, never stored.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import types
from typing import Any

import jax
import numpy as np

__all__ = ["Unfingerprintable", "program_fingerprint", "args_fingerprint", "describe_sharding",
           "spec_entries", "environment", "digest"]


class Unfingerprintable(Exception):
    """A value whose effect on a traced program cannot be described without tracing."""


# code from these packages is identified by name: their versions are part of the environment
_LIBRARIES = ("jax", "jaxlib", "numpy", "optax", "math", "operator", "functools", "builtins",
              "ml_dtypes")
# run-time counters of an optimizer: the program reads them from its state, never bakes them in
_OPTIMIZER_COUNTERS = frozenset({"num_update", "_index_update_count", "_all_index_update_counts"})
_MAX_NODES = 50_000


def _is_modjax(module: str | None) -> bool:
    return bool(module) and (module == "modjax" or module.startswith("modjax."))


def _is_library(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in _LIBRARIES


class _Walker:
    """One fingerprinting walk: JSON-able descriptions, cycle and size checks."""

    def __init__(self) -> None:
        self.path: set[int] = set()
        self.nodes = 0

    def __call__(self, x: Any) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise Unfingerprintable("too large a closure")
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int):
            return ["int", str(x)]
        if isinstance(x, float):
            return ["float", repr(x)]
        if isinstance(x, complex):
            return ["complex", repr(x)]
        if isinstance(x, bytes):
            return ["bytes", hashlib.sha256(x).hexdigest()]
        if isinstance(x, (np.dtype, np.generic)):
            return ["np", type(x).__name__, str(x.dtype) if isinstance(x, np.generic) else "",
                    repr(x.item()) if isinstance(x, np.generic) else str(x)]
        if isinstance(x, type):
            return self._type(x)
        if isinstance(x, jax.tree_util.PyTreeDef):
            return ["treedef", str(x)]
        if isinstance(x, jax.ShapeDtypeStruct):
            return ["sds", list(x.shape), str(x.dtype)]
        if isinstance(x, jax.Array):  # a captured constant: its value would be baked in
            raise Unfingerprintable("a jax array captured by the program")
        if isinstance(x, np.ndarray):
            if x.dtype == object:
                raise Unfingerprintable("an object array")
            return ["ndarray", str(x.dtype), list(x.shape),
                    hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()]
        key = id(x)
        if key in self.path:
            raise Unfingerprintable("a cycle")
        self.path.add(key)
        try:
            return self._compound(x)
        finally:
            self.path.discard(key)

    def _type(self, t: type) -> list:
        module = getattr(t, "__module__", None)
        if not (_is_modjax(module) or _is_library(module)):
            raise Unfingerprintable(f"type {module}.{t.__qualname__}")
        return ["type", module, t.__qualname__]

    def _compound(self, x: Any) -> Any:
        custom = getattr(type(x), "__fingerprint__", None)
        if custom is not None:
            return ["custom", self._type(type(x)), custom(x)]
        if isinstance(x, tuple) and hasattr(type(x), "_fields"):  # a NamedTuple
            return ["namedtuple", self._type(type(x)), [self(v) for v in x]]
        if isinstance(x, (tuple, list)):
            return [type(x).__name__, [self(v) for v in x]]
        if isinstance(x, (set, frozenset)):
            items = [self(v) for v in x]
            return [type(x).__name__, sorted(items, key=lambda v: json.dumps(v, sort_keys=True))]
        if isinstance(x, dict):
            if type(x) is not dict:
                raise Unfingerprintable(f"a {type(x).__name__}")
            items = [[self(k), self(v)] for k, v in x.items()]
            return ["dict", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
        if isinstance(x, functools.partial):
            return ["partial", self(x.func), self(list(x.args)), self(dict(x.keywords))]
        if isinstance(x, types.MethodType):
            return ["method", self(x.__func__), self(x.__self__)]
        if isinstance(x, types.FunctionType):
            return self._function(x)
        if isinstance(x, types.BuiltinFunctionType):
            if not _is_library(getattr(x, "__module__", None) or "builtins"):
                raise Unfingerprintable(f"builtin {x!r}")
            return ["builtin", x.__module__ or "builtins", x.__qualname__]
        if isinstance(x, types.ModuleType):
            if not (_is_modjax(x.__name__) or _is_library(x.__name__)):
                raise Unfingerprintable(f"module {x.__name__}")
            return ["module", x.__name__]
        return self._object(x)

    def _function(self, fn: types.FunctionType) -> list:
        module = fn.__module__
        if _is_library(module):  # library code: its version is in the environment
            if fn.__closure__:
                raise Unfingerprintable(f"a closure from {module}")
            return ["libfn", module, fn.__qualname__]
        if not _is_modjax(module):
            raise Unfingerprintable(f"code from {module}: {fn.__qualname__}")
        code = fn.__code__
        cells = {}
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                cells[name] = self(cell.cell_contents)
            except ValueError:  # an empty cell: a name assigned after the function was made
                raise Unfingerprintable(f"an unbound closure variable {name}") from None
        return ["fn", module, fn.__qualname__, code.co_firstlineno,
                hashlib.sha256(code.co_code).hexdigest(), cells,
                self(list(fn.__defaults__ or ())), self(dict(fn.__kwdefaults__ or {}))]

    def _object(self, x: Any) -> list:
        cls = type(x)
        if not _is_modjax(cls.__module__):
            raise Unfingerprintable(f"an object of {cls.__module__}.{cls.__qualname__}")
        state = getattr(x, "__dict__", None)
        if state is None or getattr(cls, "__slots__", None):
            raise Unfingerprintable(f"{cls.__qualname__} keeps state outside __dict__")
        skip = _OPTIMIZER_COUNTERS if _is_optimizer(x) else frozenset()
        items = {k: v for k, v in state.items() if k not in skip}
        return ["object", self._type(cls), self(items)]


def _is_optimizer(x: Any) -> bool:
    opt = sys.modules.get("modjax.optimizer.optimizer")
    return opt is not None and isinstance(x, opt.Optimizer)


def _value(x: Any) -> Any:
    return _Walker()(x)


def program_fingerprint(jitted: Any) -> Any:
    """A JSON-able description of a ``jax.jit``-wrapped function: its options and, recursively,
    its Python function and closure. Raises :class:`Unfingerprintable`."""
    info = getattr(jitted, "_jit_info", None)
    fun = getattr(jitted, "_fun", None)
    if info is None or fun is None:
        raise Unfingerprintable("not a jax.jit function")
    unspecified = all(type(s).__name__ == "UnspecifiedValue"
                      for s in tuple(info.in_shardings_leaves) + tuple(info.out_shardings_leaves))
    if not unspecified or any(x is not None for x in tuple(info.in_layouts_leaves) +
                              tuple(info.out_layouts_leaves)):
        raise Unfingerprintable("jit with explicit shardings or layouts")
    if info.device is not None or info.backend is not None:
        raise Unfingerprintable("jit with a device or backend")
    options = {"static_argnums": list(info.static_argnums),
               "static_argnames": list(info.static_argnames),
               "donate_argnums": list(info.donate_argnums),
               "donate_argnames": list(info.donate_argnames),
               "keep_unused": bool(info.keep_unused), "inline": bool(info.inline),
               "compiler_options": [[str(k), repr(v)] for k, v in info.compiler_options_kvs]}
    return {"jit": options, "fun": _value(fun)}


_SHARDINGS: dict[Any, Any] = {}


def describe_sharding(s: Any) -> Any:
    """A JSON-able, process-independent description of a sharding (None for none)."""
    if s is None:
        return None
    desc = _SHARDINGS.get(s)
    if desc is None:
        if len(_SHARDINGS) > 1024:
            _SHARDINGS.clear()
        desc = _SHARDINGS[s] = _describe_sharding(s)
    return desc


def _describe_sharding(s: Any) -> Any:
    from jax.sharding import Mesh, NamedSharding, SingleDeviceSharding
    if isinstance(s, SingleDeviceSharding):
        (device,) = s.device_set
        return {"t": "single", "dev": device.id, "mem": s.memory_kind}
    if isinstance(s, NamedSharding) and isinstance(s.mesh, Mesh):
        entries = spec_entries(s.spec)
        mesh = s.mesh
        return {"t": "named", "devs": np.vectorize(lambda d: d.id, otypes=[int])(
            mesh.devices).tolist(), "axes": list(mesh.axis_names),
            "types": [t.name for t in mesh.axis_types], "spec": entries, "mem": s.memory_kind}
    raise Unfingerprintable(f"sharding {type(s).__name__}")


def spec_entries(spec: Any) -> list:
    """A PartitionSpec as JSON: None, an axis name, or a list of axis names per dimension."""
    if getattr(spec, "unreduced", None) or getattr(spec, "reduced", None):
        raise Unfingerprintable("a partition spec with unreduced/reduced axes")
    entries = [e if e is None or isinstance(e, str) else list(e) for e in spec]
    if not all(e is None or isinstance(e, str) or all(isinstance(a, str) for a in e)
               for e in entries):
        raise Unfingerprintable(f"partition spec {spec}")
    return entries


def args_fingerprint(args: tuple) -> Any:
    """The arguments as the program sees them: arrays by shape, dtype, weak type, sharding and
    commitment; any other (static) value by its fingerprint; and the tree structure."""
    leaves, treedef = jax.tree_util.tree_flatten(args)
    walk = _Walker()
    out = []
    for x in leaves:
        if isinstance(x, jax.Array):
            weak = bool(getattr(x, "weak_type", False))  # PRNG key arrays have none
            out.append(["array", list(x.shape), str(x.dtype), weak, describe_sharding(x.sharding),
                        bool(getattr(x, "_committed", True))])
        elif isinstance(x, jax.ShapeDtypeStruct):
            out.append(["sds", list(x.shape), str(x.dtype), bool(x.weak_type),
                        describe_sharding(x.sharding)])
        elif isinstance(x, np.ndarray):
            out.append(["ndarray", list(x.shape), str(x.dtype)])
        else:
            out.append(["static", walk(x)])
    return {"tree": str(treedef), "leaves": out}


def _source_hash() -> str:
    """sha256 of modjax's Python sources (names and contents, in a fixed order)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                h.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def _simple(x: Any) -> Any:
    """JAX's tracing context (its flags) as stable text: objects without a stable repr by type."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return repr(x)
    if isinstance(x, tuple):
        return [_simple(v) for v in x]
    if hasattr(x, "name") and hasattr(type(x), "__members__"):  # an enum
        return f"{type(x).__name__}.{x.name}"
    return type(x).__qualname__


_FLAGS: dict[Any, Any] = {}


@functools.lru_cache(maxsize=None)
def _process_environment() -> tuple:
    import jaxlib
    versions = {"python": list(sys.version_info[:2]), "jax": jax.__version__,
                "jaxlib": jaxlib.__version__, "numpy": np.__version__,
                "optax": getattr(sys.modules.get("optax"), "__version__", None),
                "modjax": _source_hash()}
    env = {k: os.environ.get(k) for k in ("XLA_FLAGS", "LIBTPU_INIT_ARGS")}
    return json.dumps(versions, sort_keys=True), json.dumps(env, sort_keys=True)


def environment(devices: Any = None) -> dict:
    """What else decides a traced program: versions, modjax's source, JAX's flags, and (for a
    compiled one) the backend and the kinds of ``devices``."""
    from jax._src import config as jax_config
    versions, env = _process_environment()
    context = jax_config.trace_context()
    flags = _FLAGS.get(context)
    if flags is None:
        if len(_FLAGS) > 64:  # contexts are few; never let the memo grow without bound
            _FLAGS.clear()
        flags = _FLAGS[context] = _simple(context)
    out = {"versions": versions, "env": env, "jax_flags": flags}
    if devices is not None:
        backend = devices[0].client
        out["backend"] = [backend.platform, backend.platform_version]
        out["devices"] = sorted({d.device_kind for d in devices})
    return out


def digest(material: Any) -> str:
    """sha256 of a JSON-able description, in canonical form."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
