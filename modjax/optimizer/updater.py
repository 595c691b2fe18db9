"""``Updater`` (the kvstore-style updater closure) and its SAFE states format.

``Updater.get_states()`` returns ``flax.serialization.msgpack_serialize`` bytes of a plain
pytree (no pickle; loading never runs code)::

    {"format": "modjax.optimizer_states", "version": 1,
     "num_update": int,
     "counts": [[device_id, [[key, count], ...]], ...],   # per-index update counts
     "states": [[key, state], ...],
     "glob": value,                                       # optimizer-global state (Nadam)
     "optimizer": None | {"name": str, "attrs": value, "lr_scheduler": None | {...}}}

where every ``key``/``state``/``value`` is tagged: ``{"t": "none"}``, ``{"t": "array", "v":
ndarray}``, ``{"t": "tuple"|"list", "v": [...]}``, ``{"t": "dict", "v": [[key, value], ...]}``,
``{"t": "int"|"float"|"bool"|"str", "v": x}``.

MXNet's own pickled ``.states`` files are read only through the explicit opt-in
:func:`load_mxnet_pickled_states` (a restricted unpickler), whose result ``set_states`` accepts.
"""
from __future__ import annotations

import io
import pickle
import struct
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..base import FLAG_TO_DTYPE, MXNetError
from ..ndarray.ndarray import NDArray
from .optimizer import Optimizer

__all__ = ["Updater", "get_updater", "load_mxnet_pickled_states", "encode_value",
           "decode_value", "FORMAT"]

FORMAT = "modjax.optimizer_states"
VERSION = 1


# -- tagged encoding of plain values -------------------------------------------------------------
def encode_value(x: Any) -> Any:
    """A msgpack-able tagged form of None/bool/int/float/str/arrays/NDArray/tuple/list/dict."""
    if x is None:
        return {"t": "none"}
    if isinstance(x, (bool, np.bool_)):
        return {"t": "bool", "v": bool(x)}
    if isinstance(x, (int, np.integer)):
        return {"t": "int", "v": int(x)}
    if isinstance(x, (float, np.floating)):
        return {"t": "float", "v": float(x)}
    if isinstance(x, str):
        return {"t": "str", "v": x}
    if isinstance(x, NDArray):
        return {"t": "array", "v": x.asnumpy()}
    if isinstance(x, (np.ndarray, jax.Array)):
        arr = np.asarray(x)
        if arr.dtype == object:
            raise MXNetError("object arrays cannot be saved in optimizer states")
        return {"t": "array", "v": arr}
    if isinstance(x, tuple):
        return {"t": "tuple", "v": [encode_value(v) for v in x]}
    if isinstance(x, list):
        return {"t": "list", "v": [encode_value(v) for v in x]}
    if isinstance(x, dict):
        return {"t": "dict", "v": [[encode_value(k), encode_value(v)] for k, v in x.items()]}
    raise MXNetError(f"cannot save a {type(x).__name__} in optimizer states")


def decode_value(x: Any, as_ndarray: bool = True) -> Any:
    """Inverse of :func:`encode_value`; arrays come back as NDArrays (or numpy)."""
    if not isinstance(x, dict) or "t" not in x:
        raise MXNetError(f"corrupt optimizer states: unexpected entry {type(x).__name__}")
    tag, v = x["t"], x.get("v")
    if tag == "none":
        return None
    if tag in ("bool", "int", "float", "str"):
        return {"bool": bool, "int": int, "float": float, "str": str}[tag](v)
    if tag == "array":
        arr = np.asarray(v)
        return NDArray(jnp.asarray(arr)) if as_ndarray else arr
    if tag in ("tuple", "list"):
        seq = [decode_value(e, as_ndarray) for e in v]
        return tuple(seq) if tag == "tuple" else seq
    if tag == "dict":
        return {decode_value(k, False): decode_value(val, as_ndarray) for k, val in v}
    raise MXNetError(f"corrupt optimizer states: unknown tag {tag!r}")


_SIMPLE = (type(None), bool, int, float, str, np.integer, np.floating, np.bool_)


def _encodable(v: Any) -> bool:
    if isinstance(v, _SIMPLE):
        return True
    if isinstance(v, (tuple, list)):
        return all(_encodable(e) for e in v)
    if isinstance(v, dict):
        return all(_encodable(k) and _encodable(e) for k, e in v.items())
    return False


def _config_of(obj: Any, skip: tuple = ()) -> dict:
    return {k: v for k, v in vars(obj).items()
            if k not in skip and not k.startswith("__") and _encodable(v)}


def _optimizer_config(opt: Optimizer) -> dict:
    sched = opt.lr_scheduler
    return {"name": type(opt).__name__.lower(),
            "attrs": _config_of(opt, ("param_dict", "lr_scheduler", "_glob",
                                      "_index_update_count", "_all_index_update_counts")),
            "lr_scheduler": None if sched is None else {"class": type(sched).__name__,
                                                         "attrs": _config_of(sched)}}


def _optimizer_from_config(cfg: dict, current: Optimizer | None) -> Optimizer:
    """Rebuild an optimizer from saved attributes: only registered optimizer classes and
    modjax.lr_scheduler classes are instantiated; only attributes a fresh instance has are set."""
    name = str(cfg.get("name", "")).lower()
    if name not in Optimizer.opt_registry:
        raise MXNetError(f"saved optimizer {name!r} is not a registered optimizer")
    opt = Optimizer.opt_registry[name]()
    for k, v in (cfg.get("attrs") or {}).items():
        if k in vars(opt) and not k.startswith("_"):
            setattr(opt, k, v)
    sched_cfg = cfg.get("lr_scheduler")
    if sched_cfg:
        opt.lr_scheduler = _scheduler_from_config(sched_cfg, current)
    return opt


def _scheduler_from_config(cfg: dict, current: Optimizer | None) -> Any:
    try:
        from .. import lr_scheduler as lrs  # type: ignore[attr-defined]
        klass = getattr(lrs, str(cfg["class"]))
        base = getattr(lrs, "LRScheduler", object)
        if not (isinstance(klass, type) and issubclass(klass, base)):
            raise AttributeError(cfg["class"])
    except (ImportError, AttributeError):
        if current is not None and current.lr_scheduler is not None:
            return current.lr_scheduler
        raise MXNetError(f"cannot restore lr_scheduler {cfg.get('class')!r}: no such class in "
                         "modjax.lr_scheduler") from None
    sched = klass.__new__(klass)
    sched.__dict__.update(cfg.get("attrs") or {})
    return sched


class Updater:
    """Applies ``optimizer`` to (index, grad, weight) calls, keeping one state per index."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.states: dict = {}
        self.states_synced: dict = {}
        self.aggregate_updates = optimizer.aggregate_num > 0

    def __call__(self, index: Any, grad: Any, weight: Any) -> None:
        """Update weight(s) in place; ``index``/``grad``/``weight`` may be lists."""
        if isinstance(index, (list, tuple)):
            indices, grads, weights = list(index), list(grad), list(weight)
        else:
            indices, grads, weights = [index], [grad], [weight]
        if weights:
            self.optimizer._set_current_context(weights[0].context.device_id)
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                indices[i] = idx = idx.decode()
            if idx not in self.states:
                self.states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
            elif not self.states_synced.get(idx, False):
                self.states[idx] = self.sync_state_context(self.states[idx], weights[i].context)
                self.states_synced[idx] = True
        for idx, w, g in zip(indices, weights, grads):
            self.optimizer.update_multi_precision(idx, w, g, self.states[idx])

    def sync_state_context(self, state: Any, context: Any) -> Any:
        """Move a state (NDArrays, possibly nested in tuples/lists) onto ``context``."""
        if isinstance(state, NDArray):
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            synced = [self.sync_state_context(s, context) for s in state]
            return tuple(synced) if isinstance(state, tuple) else synced
        return state

    def get_states(self, dump_optimizer: bool = False) -> bytes:
        """The states (and per-index counts; the optimizer's settings with ``dump_optimizer``)
        as msgpack bytes in the documented safe format."""
        opt = self.optimizer
        tree = {
            "format": FORMAT, "version": VERSION,
            "num_update": int(opt.num_update),
            "counts": [[int(dev), [[encode_value(k), int(c)] for k, c in counts.items()]]
                       for dev, counts in opt._all_index_update_counts.items()],
            "states": [[encode_value(k), encode_value(s)] for k, s in self.states.items()],
            "glob": encode_value(dict(opt._glob) if opt._glob else {}),
            "optimizer": _optimizer_config(opt) if dump_optimizer else None,
        }
        if tree["optimizer"] is not None:
            tree["optimizer"]["attrs"] = encode_value(tree["optimizer"]["attrs"])
            sched = tree["optimizer"]["lr_scheduler"]
            if sched is not None:
                sched["attrs"] = encode_value(sched["attrs"])
            else:
                tree["optimizer"]["lr_scheduler"] = {"none": True}
        from flax import serialization  # lazily: importing flax costs ~0.1 s at start-up
        return serialization.msgpack_serialize(tree)

    def set_states(self, states: Any) -> None:
        """Restore from :meth:`get_states` bytes, or from the dict / ``(states, optimizer)``
        returned by :func:`load_mxnet_pickled_states`. Pickle bytes are refused here."""
        if isinstance(states, (bytes, bytearray, memoryview)):
            data = bytes(states)
            if data[:1] == b"\x80":
                raise MXNetError("these optimizer states are a Python pickle (MXNet's format); "
                                 "modjax never unpickles implicitly. If you trust the file, "
                                 "decode it with mx.optimizer.load_mxnet_pickled_states(data, "
                                 "allow_pickle=True) and pass the result to set_states")
            self._set_from_msgpack(data)
            return
        if isinstance(states, tuple) and len(states) == 2 and isinstance(states[1], dict) \
                and "name" in states[1]:
            self.states = dict(states[0])
            self.optimizer = _optimizer_from_config(states[1], self.optimizer)
        elif isinstance(states, dict):
            self.states = dict(states)
        else:
            raise MXNetError(f"set_states expects bytes from get_states or the result of "
                             f"load_mxnet_pickled_states, got {type(states).__name__}")
        self.states_synced = dict.fromkeys(self.states.keys(), False)

    def _set_from_msgpack(self, data: bytes) -> None:
        from flax import serialization
        try:
            tree = serialization.msgpack_restore(data)
        except Exception as err:  # noqa: BLE001 - any decoding failure is a corrupt file
            raise MXNetError(f"cannot read optimizer states: {err}") from err
        if not isinstance(tree, dict) or tree.get("format") != FORMAT:
            raise MXNetError("not a modjax optimizer states file (missing format tag "
                             f"{FORMAT!r})")
        if int(tree.get("version", 0)) > VERSION:
            raise MXNetError(f"optimizer states version {tree['version']} is newer than this "
                             f"modjax (reads up to {VERSION})")
        cfg = tree.get("optimizer")
        if cfg is not None:
            cfg = dict(cfg)
            cfg["attrs"] = decode_value(cfg["attrs"], as_ndarray=False)
            sched = cfg.get("lr_scheduler")
            if sched and "none" not in sched:
                cfg["lr_scheduler"] = {"class": sched["class"],
                                       "attrs": decode_value(sched["attrs"], as_ndarray=False)}
            else:
                cfg["lr_scheduler"] = None
            self.optimizer = _optimizer_from_config(cfg, self.optimizer)
        opt = self.optimizer
        self.states = {decode_value(k, False): decode_value(s) for k, s in tree["states"]}
        self.states_synced = dict.fromkeys(self.states.keys(), False)
        opt._all_index_update_counts = {
            int(dev): {decode_value(k, False): int(c) for k, c in counts}
            for dev, counts in tree.get("counts", [])} or {0: {}}
        opt._index_update_count = opt._all_index_update_counts.setdefault(0, {})
        opt.num_update = int(tree.get("num_update", opt.num_update))
        glob = decode_value(tree.get("glob", {"t": "dict", "v": []}), as_ndarray=False)
        opt._glob = {k: jnp.asarray(v) for k, v in glob.items()} if glob else None


def get_updater(optimizer: Optimizer) -> Updater:
    """MXNet's ``get_updater``: an :class:`Updater` for ``optimizer``."""
    return Updater(optimizer)


# -- MXNet pickled states: explicit opt-in, restricted unpickler ---------------------------------
_V2_MAGIC = 0xF993FAC9
_V3_MAGIC = 0xF993FACA


def _ndarray_from_raw(buf: bytes) -> np.ndarray:
    """One NDArray record of MXNDArraySaveRawBytes: modjax's .params reader when present,
    else the small dense V2/V3 parser below."""
    try:
        from ..ndarray.serialization import record_from_bytes
    except ImportError:
        return _dense_record(buf)
    return record_from_bytes(buf, source="MXNet optimizer states")


def _dense_record(buf: bytes) -> np.ndarray:
    """Parse one dense NDArray record (V2/V3 magic)."""
    try:
        magic, = struct.unpack_from("<I", buf, 0)
        if magic not in (_V2_MAGIC, _V3_MAGIC):
            raise MXNetError(f"unsupported NDArray record magic {magic:#x}")
        stype, ndim = struct.unpack_from("<iI", buf, 4)
        if stype != 0:
            raise MXNetError(f"sparse NDArray (stype {stype}) in optimizer states is not supported")
        off = 12
        shape = struct.unpack_from(f"<{ndim}q", buf, off)
        off += 8 * ndim
        if ndim == 0 and magic == _V2_MAGIC:
            return np.zeros((0,), np.float32)
        off += 8  # context: dev_type, dev_id
        flag, = struct.unpack_from("<i", buf, off)
        off += 4
        dtype = FLAG_TO_DTYPE[flag]
        count = int(np.prod(shape, dtype=np.int64))
        data = np.frombuffer(buf, dtype=dtype.newbyteorder("<"), count=count, offset=off)
        return data.reshape(shape).astype(dtype)
    except (struct.error, KeyError, ValueError) as err:
        raise MXNetError(f"corrupt NDArray record in MXNet optimizer states: {err}") from err


class _PickledNDArray:
    """Stand-in for mxnet.ndarray.ndarray.NDArray while unpickling."""

    def __init__(self, *args: Any):
        self.value: np.ndarray | None = None

    def __setstate__(self, state: dict) -> None:
        handle = state.get("handle") if isinstance(state, dict) else None
        self.value = None if handle is None else _ndarray_from_raw(bytes(handle))


class _PickledObject:
    """Stand-in for an MXNet optimizer / lr_scheduler: keeps its attribute dict only."""

    mx_module = ""
    mx_name = ""

    def __init__(self, *args: Any, **kwargs: Any):
        self.attrs: dict = {}

    def __setstate__(self, state: Any) -> None:
        self.attrs = dict(state) if isinstance(state, dict) else {}


_NUMPY_GLOBALS = {("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                  ("numpy", "ndarray"), ("numpy", "dtype")}


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows only: MXNet NDArray, MXNet optimizer/lr_scheduler classes (as attribute bags),
    numpy array/scalar reconstruction, and bytearray. Anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("mxnet.ndarray.ndarray", "NDArray"):
            return _PickledNDArray
        if (module, name) == ("builtins", "bytearray"):
            return bytearray
        if (module, name) in _NUMPY_GLOBALS:
            import importlib
            return getattr(importlib.import_module(module), name)
        if module in ("mxnet.optimizer.optimizer", "mxnet.optimizer", "mxnet.lr_scheduler") \
                and name.isidentifier():
            return type(name, (_PickledObject,), {"mx_module": module, "mx_name": name})
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in optimizer "
                                     "states")


def _convert(x: Any) -> Any:
    if isinstance(x, _PickledNDArray):
        return None if x.value is None else NDArray(jnp.asarray(x.value))
    if isinstance(x, _PickledObject):
        return {k: _convert(v) for k, v in x.attrs.items()}
    if isinstance(x, tuple):
        return tuple(_convert(v) for v in x)
    if isinstance(x, list):
        return [_convert(v) for v in x]
    if isinstance(x, dict):
        return {k: _convert(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return NDArray(jnp.asarray(x))
    return x


def load_mxnet_pickled_states(data: bytes, allow_pickle: bool = False) -> Any:
    """Decode MXNet 1.x ``Updater.get_states()`` bytes (a pickle) WITHOUT running code.

    Returns the states dict (index -> NDArray / tuple / None), or ``(states, optimizer_cfg)``
    when MXNet saved the optimizer too (``dump_optimizer=True``); pass it to
    ``Updater.set_states``. You must opt in with ``allow_pickle=True``.
    """
    if not allow_pickle:
        raise MXNetError("load_mxnet_pickled_states reads a Python pickle; call it with "
                         "allow_pickle=True only for files you trust")
    try:
        raw = _RestrictedUnpickler(io.BytesIO(bytes(data))).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as err:
        raise MXNetError(f"cannot read MXNet optimizer states: {err}") from err
    if isinstance(raw, tuple) and len(raw) == 2 and isinstance(raw[1], _PickledObject):
        opt_obj = raw[1]
        attrs = {k: v for k, v in _convert(opt_obj).items() if _encodable(v)}
        sched = opt_obj.attrs.get("lr_scheduler")
        cfg = {"name": opt_obj.mx_name.lower(), "attrs": attrs,
               "lr_scheduler": None if not isinstance(sched, _PickledObject) else
               {"class": sched.mx_name, "attrs": {k: v for k, v in sched.attrs.items()
                                                  if _encodable(v)}}}
        return _convert(raw[0]), cfg
    if not isinstance(raw, dict):
        raise MXNetError(f"MXNet optimizer states should hold a dict, got {type(raw).__name__}")
    return _convert(raw)
