"""The executable store: compiled programs on disk, found without tracing them.

Each entry is one file, ``<digest>.exe`` in ``modjax-exec/`` inside the compilation cache
directory (:func:`modjax.config.executable_store_dir`); the digest is a sha256 of the program's
fingerprint (:mod:`.fingerprint`). A file holds::

    magic (16 bytes) | header length, payload length (2 x uint64 LE) | sha256(header + payload)
    | header: JSON | payload: the backend's serialized XLA executable

The header describes, in plain JSON, what JAX keeps beside the XLA executable: argument and
result avals, shardings, donation, which arguments survived dead-code elimination, and the
result's tree. Loading never unpickles anything (``jax.experimental.serialize_executable``
pickles); the result's tree may only use node types that the caller's own arguments contain.
The XLA executable itself is native code for this machine: the store is trusted as JAX's own
persistent cache is (same directory, same owner).

Only freshly compiled executables are stored: on XLA:CPU, serializing an executable that was
itself loaded from JAX's persistent cache gives bytes that load but fail to run ("Function ...
not found"). So a program bound for the store is compiled with JAX's cache writes turned off
for that compile (no second copy), and if JAX's cache served it anyway (an entry written
before), it is not stored. A program the store cannot describe leaves a ``<digest>.skip``
marker, and later processes compile it with JAX's cache as before.

Before an entry is written, the metadata rebuilt from its header is compared with the freshly
compiled executable's; any difference (a JAX feature this format does not describe) means the
entry is not written. A file with a wrong size, hash, magic or digest is a miss: the program is
compiled and the file rewritten (atomically: a temporary file, then a rename).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
from typing import Any, Iterator

import jax
import numpy as np

from .fingerprint import (Unfingerprintable, args_fingerprint, describe_sharding, digest,
                          environment, program_fingerprint, spec_entries)

__all__ = ["ExecutableStore", "current_store"]

log = logging.getLogger("modjax.exec_store")

MAGIC = b"MODJAX-EXEC-v1\x00\x00"
_PREFIX = struct.Struct("<QQ")


class _Unsupported(Exception):
    """An executable this format cannot describe exactly: compile it, do not store it."""


class ExecutableStore:
    """Executables in one folder, keyed by program fingerprint."""

    def __init__(self, folder: str):
        self.folder = folder

    def path(self, key: str) -> str:
        return os.path.join(self.folder, key + ".exe")

    def skipped(self, key: str) -> bool:
        """Whether an earlier process found this program impossible to store."""
        return os.path.exists(os.path.join(self.folder, key + ".skip"))

    def mark_skipped(self, key: str, reason: str) -> None:
        try:
            _write_atomic(self.folder, key + ".skip", json.dumps({"reason": reason}).encode())
        except OSError:
            pass

    @contextlib.contextmanager
    def fresh_compile(self) -> Iterator["_Probe"]:
        """Compile without writing JAX's cache (the store keeps the copy), noting whether
        JAX's cache served the executable (then it must not be stored)."""
        from jax._src import config as jax_config
        _listen()
        probe = _Probe()
        previous = getattr(_watch, "probe", None)
        _watch.probe = probe
        try:
            with jax_config.persistent_cache_min_compile_time_secs(float("inf")):
                yield probe
        finally:
            _watch.probe = previous

    # -- keys ----------------------------------------------------------------------------------
    def key(self, cache_key: Any, fn: Any, args: tuple) -> str | None:
        """The entry name of ``fn`` (a ``jax.jit`` function) compiled for ``args``; None when
        the program cannot be identified without tracing it."""
        try:
            devices = _devices_of(args)
            material = {"format": MAGIC.decode("ascii", "replace"), "cache_key": repr(cache_key),
                        "program": program_fingerprint(fn), "args": args_fingerprint(args),
                        "environment": environment(devices)}
            return digest(material)
        except Unfingerprintable as err:
            log.debug("not stored on disk (%s): %s", cache_key[0] if cache_key else "", err)
        except Exception as err:  # noqa: BLE001 - a key that cannot be made is just no key
            log.debug("no store key (%s): %s: %s", cache_key[0] if cache_key else "",
                      type(err).__name__, err)
        return None

    # -- small JSON records (shape inference results) -------------------------------------------
    def load_record(self, key: str) -> Any:
        """A record saved by :meth:`save_record`, or None (missing or damaged)."""
        try:
            with open(os.path.join(self.folder, key + ".json"), "rb") as f:
                record = json.loads(f.read().decode())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        return record.get("value")

    def save_record(self, key: str, value: Any) -> None:
        try:
            _write_atomic(self.folder, key + ".json",
                          json.dumps({"key": key, "value": value}).encode())
        except OSError:
            pass

    # -- load ----------------------------------------------------------------------------------
    def load(self, key: str, fn: Any, args: tuple) -> Any:
        """The stored ``jax.stages.Compiled`` for ``args``, or None (missing or damaged)."""
        try:
            with open(self.path(key), "rb") as f:
                blob = f.read()
        except OSError:
            return None
        try:
            header, payload = _unpack(blob, key)
            return _rebuild(header, payload, _dynamic_args(fn, args), None)
        except Exception as err:  # noqa: BLE001 - a damaged entry is a miss, never a crash
            log.warning("modjax executable cache: ignoring damaged entry %s (%s: %s)",
                        self.path(key), type(err).__name__, err)
            return None

    # -- save ----------------------------------------------------------------------------------
    def save(self, key: str, compiled: Any, fn: Any, args: tuple) -> bool:
        """Write ``compiled`` (freshly compiled); False when it could not be (a program this
        format cannot describe is marked skipped)."""
        try:
            dyn = _dynamic_args(fn, args)
            header, xla_exe = _describe(compiled, dyn, key)
            _rebuild(header, None, dyn, (compiled, xla_exe))  # verifies the description
            backend = xla_exe.client
            payload = xla_exe.serialize() if hasattr(xla_exe, "serialize") else \
                backend.serialize_executable(xla_exe)
        except Exception as err:  # noqa: BLE001 - storing is an optimisation, never an error
            # _Unsupported (a JAX feature this format does not describe) or a JAX API this
            # version lacks: later processes compile this program with JAX's cache instead
            reason = f"{type(err).__name__}: {err}"
            log.debug("executable %s not stored: %s", key[:12], reason)
            self.mark_skipped(key, reason[:500])
            return False
        head = json.dumps(header, sort_keys=True).encode()
        blob = (MAGIC + _PREFIX.pack(len(head), len(payload)) +
                hashlib.sha256(head + payload).digest() + head + payload)
        try:
            _write_atomic(self.folder, key + ".exe", blob)
        except OSError as err:
            log.debug("executable %s not stored: %s", key[:12], err)
            return False
        return True


class _Probe:
    jax_cache_hit = False


_watch = threading.local()
_listening = False
_listen_lock = threading.Lock()


def _listen() -> None:
    """One process-wide listener for JAX's cache hits, reported to the compiling thread."""
    global _listening
    with _listen_lock:
        if _listening:
            return

        def on_event(event: str, **_: Any) -> None:
            probe = getattr(_watch, "probe", None)
            if probe is not None and event == "/jax/compilation_cache/cache_hits":
                probe.jax_cache_hit = True
        jax.monitoring.register_event_listener(on_event)
        _listening = True


@functools.lru_cache(maxsize=None)
def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _write_atomic(folder: str, name: str, data: bytes) -> None:
    """A temporary file in ``folder``, then a rename: readers see all of it or nothing."""
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + name[:16], dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_STORES: dict[str, ExecutableStore] = {}


def current_store() -> ExecutableStore | None:
    """The store at :func:`modjax.config.executable_store_dir` (None: off, or a multi-process
    job, whose executables span other processes' devices)."""
    from .. import config
    folder = config.executable_store_dir()
    if not folder or jax.process_count() > 1:
        return None
    store = _STORES.get(folder)
    if store is None:
        store = _STORES[folder] = ExecutableStore(folder)
    return store


# -- the file format -------------------------------------------------------------------------------
def _unpack(blob: bytes, key: str) -> tuple[dict, bytes]:
    fixed = len(MAGIC) + _PREFIX.size + 32
    if len(blob) < fixed or blob[:len(MAGIC)] != MAGIC:
        raise ValueError("not a modjax executable file")
    n_head, n_payload = _PREFIX.unpack_from(blob, len(MAGIC))
    if len(blob) != fixed + n_head + n_payload:
        raise ValueError(f"truncated: {len(blob)} bytes, expected {fixed + n_head + n_payload}")
    body = blob[fixed:]
    if hashlib.sha256(body).digest() != blob[fixed - 32:fixed]:
        raise ValueError("checksum mismatch")
    header = json.loads(body[:n_head].decode())
    if not isinstance(header, dict) or header.get("key") != key:
        raise ValueError("the entry belongs to another key")
    return header, body[n_head:]


def _devices_of(args: tuple) -> list:
    devices: dict[int, Any] = {}
    for x in jax.tree_util.tree_leaves(args):
        sharding = getattr(x, "sharding", None) if isinstance(x, (jax.Array, jax.ShapeDtypeStruct)) \
            else None
        if sharding is not None:
            for d in sharding.device_set:
                devices[d.id] = d
    return [devices[i] for i in sorted(devices)] or jax.devices()[:1]


def _dynamic_args(fn: Any, args: tuple) -> tuple:
    static = set(fn._jit_info.static_argnums)
    return tuple(a for i, a in enumerate(args) if i not in static)


# -- describing an executable -----------------------------------------------------------------
def _describe_out_aval(aval: Any, sharding: Any) -> list:
    """[shape, dtype, weak type, mesh, spec]: the aval's abstract mesh is the empty one or
    that of the result's sharding."""
    mesh = aval.sharding.mesh
    if mesh.empty:
        where = "empty"
    elif sharding is not None and getattr(sharding, "mesh", None) is not None and \
            sharding.mesh.abstract_mesh == mesh:
        where = "result"
    else:
        raise Unfingerprintable("a result aval on another mesh")
    return [list(aval.shape), str(aval.dtype), bool(aval.weak_type), where,
            spec_entries(aval.sharding.spec)]


def _out_aval(desc: list, sharding: Any, dtypes: dict) -> Any:
    from jax._src import core
    from jax.sharding import AbstractMesh, NamedSharding, PartitionSpec
    shape, dtype, weak, where, spec = desc
    mesh = AbstractMesh((), ()) if where == "empty" else sharding.mesh.abstract_mesh
    spec = PartitionSpec(*[e if e is None or isinstance(e, str) else tuple(e) for e in spec])
    return core.ShapedArray(tuple(shape), dtypes.get(dtype) or np.dtype(dtype), weak_type=weak,
                            sharding=NamedSharding(mesh, spec))


def _describe(compiled: Any, dyn: tuple, key: str) -> tuple[dict, Any]:
    """The JSON header of a freshly compiled executable (raises _Unsupported)."""
    from jax._src.interpreters import pxla
    mesh_exe = compiled._executable
    u = getattr(mesh_exe, "_unloaded_executable", None)
    if not isinstance(mesh_exe, pxla.MeshExecutable) or u is None:
        raise _Unsupported("not a mesh executable")
    if compiled._params.const_args or u.host_callbacks or u.keepalive or u.mut is not None or \
            u.ordered_effects or u.unordered_effects or u.pgle_profiler is not None:
        raise _Unsupported("constants, callbacks, effects or mutable arrays")
    if u.all_args_info is None:
        raise _Unsupported("no argument info")
    debug = u.all_args_info.debug_info
    result_paths = debug.result_paths if isinstance(debug.result_paths, tuple) else None
    try:
        outs = [_describe_out_aval(a, s) for a, s in zip(u.output_avals, u.output_shardings)]
        header = {
            "key": key, "name": u.name, "committed": bool(u.committed),
            "no_kwargs": bool(compiled._no_kwargs), "n_dynamic": len(dyn),
            "devices": [d.id for d in u.device_list], "platform": u.backend.platform,
            "kept": sorted(int(i) for i in u.kept_var_idx),
            "donated": [bool(a.donated) for a in jax.tree_util.tree_leaves(compiled.args_info)],
            "in_shardings": [describe_sharding(s) for s in u.input_shardings],
            "out_shardings": [describe_sharding(s) for s in u.output_shardings],
            "out_avals": outs, "out_tree": _encode_tree(compiled.out_tree),
            "debug": [debug.traced_for, debug.func_src_info, list(debug.arg_names or ()),
                      list(result_paths) if result_paths is not None else None]}
    except Unfingerprintable as err:
        raise _Unsupported(str(err)) from None
    return header, mesh_exe.xla_executable


def _rebuild(header: dict, payload: bytes | None, dyn: tuple, original: tuple | None) -> Any:
    """A ``jax.stages.Compiled`` from a header and a serialized executable; with ``original``
    ((compiled, its xla executable)) instead of a payload, check the header rebuilds exactly
    that executable's metadata (raises _Unsupported when it does not)."""
    from jax._src import core, stages
    from jax._src.interpreters import pxla
    from jax._src.lib import xla_client as xc

    backend = jax.devices(header["platform"])[0].client
    by_id = {d.id: d for d in backend.devices()}
    device_list = xc.DeviceList(tuple(by_id[i] for i in header["devices"]))
    flat, in_tree = jax.tree_util.tree_flatten((dyn, {}))
    if len(dyn) != header["n_dynamic"] or len(flat) != len(header["donated"]):
        raise ValueError("the arguments do not match the stored executable")
    all_avals = [core.shaped_abstractify(x) for x in flat]
    kept = set(header["kept"])
    in_avals = [a for i, a in enumerate(all_avals) if i in kept]
    dtypes = {str(a.dtype): a.dtype for a in all_avals}
    meshes: dict[str, Any] = {}
    in_shardings = [_sharding(s, by_id, meshes) for s in header["in_shardings"]]
    out_shardings = [_sharding(s, by_id, meshes) for s in header["out_shardings"]]
    out_avals = [_out_aval(d, s, dtypes) for d, s in zip(header["out_avals"], out_shardings)]
    xla_exe = original[1] if original is not None else \
        backend.deserialize_executable(payload, executable_devices=device_list)
    xla_in, xla_out = pxla._get_layouts_from_executable(
        xla_exe, [None] * len(in_avals), [None] * len(out_avals), 0, in_avals, out_avals)
    dispatch_in = pxla.get_dispatch_layouts(xla_in, in_shardings, in_avals)
    traced_for, src, arg_names, result_paths = header["debug"]
    debug = core.DebugInfo(traced_for, src, tuple(arg_names),
                           tuple(result_paths) if result_paths is not None else None)
    args_info = in_tree.unflatten([stages.ArgInfo(a, d) for a, d in zip(all_avals,
                                                                         header["donated"])])
    out_tree = _decode_tree(header["out_tree"], _node_types(in_tree))
    fields = dict(
        xla_executable=xla_exe, device_list=device_list, backend=backend, input_avals=in_avals,
        input_shardings=in_shardings, output_avals=out_avals, output_shardings=out_shardings,
        committed=header["committed"], name=header["name"], unordered_effects=[],
        ordered_effects=[], keepalive=[], host_callbacks=[], kept_var_idx=kept, mut=None,
        xla_in_layouts=xla_in, dispatch_in_layouts=dispatch_in, xla_out_layouts=xla_out,
        all_args_info=pxla.AllArgsInfo(all_avals, debug), pgle_profiler=None)
    if original is not None:
        _verify(original[0], fields, args_info, out_tree)
        return None
    return stages.Compiled(pxla.UnloadedMeshExecutable(**fields).load(), [], args_info, out_tree,
                           no_kwargs=header["no_kwargs"])


def _verify(compiled: Any, fields: dict, args_info: Any, out_tree: Any) -> None:
    u = compiled._executable._unloaded_executable
    checks = {name: (list(getattr(u, name)), list(fields[name])) for name in (
        "input_avals", "input_shardings", "output_avals", "output_shardings", "xla_in_layouts",
        "dispatch_in_layouts", "xla_out_layouts")}
    checks["device_list"] = (list(u.device_list), list(fields["device_list"]))
    checks["kept_var_idx"] = (set(u.kept_var_idx), fields["kept_var_idx"])
    checks["committed/name"] = ((u.committed, u.name), (fields["committed"], fields["name"]))
    checks["all_avals"] = (list(u.all_args_info.in_avals), list(fields["all_args_info"].in_avals))
    checks["out_tree"] = (compiled.out_tree, out_tree)
    checks["in_tree"] = (compiled.in_tree, jax.tree_util.tree_structure(args_info))
    checks["args_info"] = ([(a._aval, a.donated) for a in jax.tree_util.tree_leaves(
        compiled.args_info)], [(a._aval, a.donated) for a in jax.tree_util.tree_leaves(args_info)])
    for name, (want, got) in checks.items():
        if want != got:
            raise _Unsupported(f"{name} does not round-trip: {want!r} != {got!r}"[:300])


# -- shardings and trees ------------------------------------------------------------------------
def _sharding(desc: Any, by_id: dict, meshes: dict) -> Any:
    from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding
    if desc is None:
        return None
    if desc["t"] == "single":
        return SingleDeviceSharding(by_id[desc["dev"]], memory_kind=desc["mem"])
    if desc["t"] != "named":
        raise ValueError(f"unknown sharding kind {desc['t']!r}")
    tag = json.dumps([desc["devs"], desc["axes"], desc["types"]])
    mesh = meshes.get(tag)
    if mesh is None:
        devs = np.vectorize(lambda i: by_id[i], otypes=[object])(np.asarray(desc["devs"]))
        mesh = meshes[tag] = Mesh(devs, tuple(desc["axes"]),
                                  axis_types=tuple(AxisType[t] for t in desc["types"]))
    spec = PartitionSpec(*[e if e is None or isinstance(e, str) else tuple(e)
                           for e in desc["spec"]])
    return NamedSharding(mesh, spec, memory_kind=desc["mem"])


_BUILTIN = {tuple: "tuple", list: "list", dict: "dict", type(None): "none"}


def _encode_tree(treedef: Any) -> Any:
    """A treedef as JSON: ``"*"`` for a leaf, else ``[kind, aux, children]`` where kind is a
    builtin container or the qualified name of another node type."""
    data = treedef.node_data()
    if data is None:
        return "*"
    node_type, aux = data
    kind = _BUILTIN.get(node_type) or f"{node_type.__module__}:{node_type.__qualname__}"
    return [kind, _encode_aux(aux), [_encode_tree(c) for c in treedef.children()]]


def _encode_aux(aux: Any) -> Any:
    if aux is None or isinstance(aux, (bool, int, str)):
        return aux
    if isinstance(aux, (tuple, list)):
        return {type(aux).__name__: [_encode_aux(a) for a in aux]}
    raise Unfingerprintable(f"tree node data {type(aux).__name__}")


def _decode_aux(aux: Any) -> Any:
    if isinstance(aux, dict):
        ((kind, items),) = aux.items()
        values = [_decode_aux(a) for a in items]
        return tuple(values) if kind == "tuple" else values
    return aux


def _node_types(treedef: Any) -> dict[str, type]:
    """The non-builtin node types of a treedef, by qualified name: all a stored result tree may
    use (nothing is imported or looked up by name from the file)."""
    found: dict[str, type] = {}
    stack = [treedef]
    while stack:
        t = stack.pop()
        data = t.node_data()
        if data is None:
            continue
        node_type = data[0]
        if node_type not in _BUILTIN:
            found[f"{node_type.__module__}:{node_type.__qualname__}"] = node_type
        stack.extend(t.children())
    return found


def _decode_tree(desc: Any, types: dict[str, type]) -> Any:
    from jax.tree_util import PyTreeDef, default_registry, tree_structure
    if desc == "*":
        return tree_structure(0)
    kind, aux, children = desc
    node_type = {v: k for k, v in _BUILTIN.items()}.get(kind) or types.get(kind)
    if node_type is None:
        raise ValueError(f"result tree node {kind!r} is not among the argument node types")
    return PyTreeDef.from_node_data_and_children(
        default_registry, (node_type, _decode_aux(aux)),
        [_decode_tree(c, types) for c in children])
