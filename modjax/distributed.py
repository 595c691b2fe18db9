"""Multi-process training: ``jax.distributed`` set up the way MXNet workers are configured.

``initialize()`` resolves the coordinator address, process count and process id, each from the
first of:

1. its argument (``coordinator_address``, ``num_processes``, ``process_id``);
2. modjax's environment: ``MODJAX_COORDINATOR`` (``host:port``), ``MODJAX_NUM_PROCESSES``,
   ``MODJAX_PROCESS_ID`` (``python -m modjax.launch`` sets them);
3. MXNet's ps-lite environment, for workers (``DMLC_ROLE`` unset or ``worker``):
   ``DMLC_PS_ROOT_URI`` + ``DMLC_PS_ROOT_PORT`` -> the coordinator (process 0 serves it there,
   where MXNet ran its scheduler), ``DMLC_NUM_WORKER`` -> the process count, ``DMLC_WORKER_ID``
   -> the process id (MXNet's scheduler assigned ranks at run time; JAX needs them up front).
   ``DMLC_NUM_SERVER`` is ignored: there are no parameter servers, gradients are all-reduced;
4. JAX's own cluster detection (SLURM, Open MPI, TPU pods, ...), for whatever is still unset.

On CPU, collectives across processes use gloo. A coordinator that cannot be reached raises
:class:`~modjax.base.MXNetError` naming the address after ``timeout`` seconds (JAX itself would
abort the process). ``initialize`` is idempotent.

``jax.distributed.initialize`` must run before JAX's first computation, so modjax calls it at
import when ``MODJAX_COORDINATOR`` is set (the launcher's processes; set
``MODJAX_AUTO_DISTRIBUTED=0`` to opt out), and ``mx.kv.create('dist_sync')`` calls it too: create
the kvstore at the top of the script, as MXNet's examples do.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any, Iterator, Sequence

import jax
import numpy as np

from .base import MXNetError

__all__ = ["initialize", "is_initialized", "process_index", "process_count", "barrier",
           "mesh_devices", "single_writer", "is_writer", "check_agreement", "allgather",
           "resolve_config", "DEFAULT_TIMEOUT"]

#: Seconds to wait for the coordinator (and for every process to join) by default.
DEFAULT_TIMEOUT = float(os.environ.get("MODJAX_DIST_TIMEOUT", "120"))

_STATE: dict[str, Any] = {"initialized": False, "config": None}
_LOCK = threading.Lock()
_WRITE_DEPTH = threading.local()
_OWNER_VAR = "MODJAX_DISTRIBUTED_PID"


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise MXNetError(f"environment variable {name}={value!r} is not an integer") from None


def resolve_config(coordinator_address: str | None = None, num_processes: int | None = None,
                   process_id: int | None = None) -> dict[str, Any]:
    """The (coordinator, num_processes, process_id) each from arguments, MODJAX_*, DMLC_*
    (see the module docstring); entries that nothing sets are None. ``source`` names where
    the coordinator came from."""
    source = "arguments" if coordinator_address else None
    coord = coordinator_address
    nproc = num_processes
    pid = process_id
    if coord is None and os.environ.get("MODJAX_COORDINATOR"):
        coord, source = os.environ["MODJAX_COORDINATOR"], "MODJAX_COORDINATOR"
    if nproc is None:
        nproc = _env_int("MODJAX_NUM_PROCESSES")
    if pid is None:
        pid = _env_int("MODJAX_PROCESS_ID")
    role = os.environ.get("DMLC_ROLE")
    if role not in (None, "", "worker") and (coord is None or nproc is None or pid is None):
        raise MXNetError(f"DMLC_ROLE={role!r}: modjax runs no parameter servers or scheduler "
                         "(gradients are all-reduced between workers); start only workers")
    if coord is None and os.environ.get("DMLC_PS_ROOT_URI"):
        port = os.environ.get("DMLC_PS_ROOT_PORT")
        if not port:
            raise MXNetError("DMLC_PS_ROOT_URI is set but DMLC_PS_ROOT_PORT is not")
        coord, source = f"{os.environ['DMLC_PS_ROOT_URI']}:{port}", "DMLC_PS_ROOT_URI"
    if nproc is None:
        nproc = _env_int("DMLC_NUM_WORKER")
    if pid is None:
        pid = _env_int("DMLC_WORKER_ID")
    return {"coordinator_address": coord, "num_processes": nproc, "process_id": pid,
            "source": source}


def _cluster_detected() -> bool:
    """Whether JAX's own cluster detection (SLURM, MPI, TPU, ...) finds an environment."""
    try:
        from jax._src import clusters
        return any(c.is_env_present() for c in clusters.ClusterEnv._cluster_types
                   if getattr(c, "opt_in_only_method", False) is False)
    except Exception:  # noqa: BLE001 - private API; no detection means no cluster
        return False


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise MXNetError(f"coordinator address {address!r} must be host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


def _wait_for_coordinator(address: str, timeout: float) -> None:
    """Poll ``address`` with TCP connects until it answers; MXNetError after ``timeout``."""
    host, port = _split_address(address)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(2.0, timeout)):
                return
        except OSError as err:
            last = err
        if time.monotonic() >= deadline:
            raise MXNetError(f"cannot reach the coordinator at {address} within {timeout:g} s "
                             f"({type(last).__name__}: {last}); is process 0 running and is the "
                             "address right (MODJAX_COORDINATOR / DMLC_PS_ROOT_URI:"
                             "DMLC_PS_ROOT_PORT)?")
        time.sleep(0.2)


def _check_can_serve(address: str) -> None:
    """Process 0 serves the coordinator: fail clearly if its port is taken."""
    _, port = _split_address(address)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError as err:
            raise MXNetError(f"process 0 cannot serve the coordinator at {address}: port {port} "
                             f"is not free ({err.strerror}); pick another port") from None


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, timeout: float | None = None,
               local_device_ids: Sequence[int] | None = None, required: bool = True) -> bool:
    """Join the multi-process job (``jax.distributed.initialize``); see the module docstring.

    Returns True when this process is part of a job of several processes. With nothing
    configured (no arguments, environment or detected cluster) it raises MXNetError, or with
    ``required=False`` returns False: one process, nothing to join. Idempotent.
    """
    with _LOCK:
        if _STATE["initialized"]:
            return True
        cfg = resolve_config(coordinator_address, num_processes, process_id)
        timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        given = [k for k in ("coordinator_address", "num_processes", "process_id") if cfg[k] is not None]
        if not given and not _cluster_detected():
            if required:
                raise MXNetError("distributed.initialize: no coordinator configured; pass "
                                 "coordinator_address, num_processes and process_id, set "
                                 "MODJAX_COORDINATOR/MODJAX_NUM_PROCESSES/MODJAX_PROCESS_ID (or "
                                 "MXNet's DMLC_PS_ROOT_URI/DMLC_PS_ROOT_PORT/DMLC_NUM_WORKER/"
                                 "DMLC_WORKER_ID), or start with python -m modjax.launch")
            return False
        if cfg["num_processes"] == 1 and cfg["process_id"] in (None, 0):
            return False  # a job of one: nothing to join
        missing = [k for k in ("coordinator_address", "num_processes", "process_id")
                   if cfg[k] is None]
        if missing and not _cluster_detected():
            raise MXNetError(f"distributed.initialize: {', '.join(missing)} not set (have "
                             f"{', '.join(f'{k}={cfg[k]!r}' for k in given)}); give all three "
                             "(arguments, MODJAX_* or DMLC_* variables)")
        nproc, pid, coord = cfg["num_processes"], cfg["process_id"], cfg["coordinator_address"]
        if nproc is not None and pid is not None and not 0 <= pid < nproc:
            raise MXNetError(f"distributed.initialize: process_id {pid} is not in [0, {nproc})")
        from jax._src import xla_bridge
        if xla_bridge.backends_are_initialized():
            raise MXNetError("distributed.initialize must run before JAX's first computation "
                             "(a jax/mx.nd array, jax.devices(), a Module): call it, or "
                             "mx.kv.create('dist_sync'), at the top of the script, or launch "
                             "with python -m modjax.launch (which joins at import)")
        if coord is not None and pid is not None:
            if pid == 0:
                _check_can_serve(coord)
            else:
                _wait_for_coordinator(coord, timeout)
        if jax.config.jax_cpu_collectives_implementation in (None, "", "none"):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        try:
            jax.distributed.initialize(coordinator_address=coord, num_processes=nproc,
                                       process_id=pid, local_device_ids=local_device_ids,
                                       initialization_timeout=max(1, int(timeout)))
        except (RuntimeError, ValueError) as err:
            raise MXNetError(f"cannot join the job (coordinator {coord}, process {pid} of "
                             f"{nproc}): {err}") from err
        _STATE["initialized"] = True
        _STATE["config"] = cfg
        os.environ[_OWNER_VAR] = str(os.getpid())
        return True


def is_initialized() -> bool:
    """Whether this process joined a multi-process job through :func:`initialize`."""
    return bool(_STATE["initialized"])


def process_index() -> int:
    return jax.process_index() if is_initialized() else 0


def process_count() -> int:
    return jax.process_count() if is_initialized() else 1


def _auto_initialize() -> None:
    """At import: join the job described by MODJAX_COORDINATOR (the launcher's processes), unless
    opted out or already joined by the parent process (whose children inherit the variables)."""
    if not os.environ.get("MODJAX_COORDINATOR"):
        return
    if os.environ.get("MODJAX_AUTO_DISTRIBUTED", "1").strip().lower() in ("0", "off", "false", "no"):
        return
    owner = os.environ.get(_OWNER_VAR)
    if owner and owner != str(os.getpid()):
        return
    initialize(required=False)


# -- collectives ---------------------------------------------------------------------------------
def barrier(name: str = "modjax_barrier") -> None:
    """Every process waits here for the others (a no-op in a single process)."""
    if process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)


def allgather(x: Any) -> np.ndarray:
    """This process's host array stacked with every other process's: shape (processes, ...)."""
    x = np.asarray(x)
    if process_count() == 1:
        return x[None]
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(x))


def check_agreement(what: str, **parts: str) -> None:
    """Raise MXNetError on every process when processes hold different ``parts`` (strings such
    as the symbol JSON and the shapes): a multi-process job must run the same model."""
    if process_count() == 1:
        return
    import hashlib
    names = sorted(parts)
    digests = np.array([np.frombuffer(hashlib.sha256(parts[n].encode()).digest()[:8], np.int32)
                        for n in names], np.int32)
    table = allgather(digests)
    differ = [(n, [p for p in range(table.shape[0]) if not np.array_equal(table[p, i], table[0, i])])
              for i, n in enumerate(names)]
    differ = [(n, procs) for n, procs in differ if procs]
    if differ:
        detail = "; ".join(f"the {n} of process(es) {procs} differ from process 0's"
                           for n, procs in differ)
        raise MXNetError(f"{what}: the processes disagree on the model: {detail}. Every process "
                         "must build the same symbol with the same per-process input shapes")


# -- devices -------------------------------------------------------------------------------------
def mesh_devices(local: Sequence[Any] | None) -> list:
    """The devices of a Module's mesh. One process: ``local``. Several: each process's devices
    at the same local positions as ``local`` (every device when ``local`` is None), so a
    context list selects local devices and the mesh spans every process."""
    if process_count() == 1:
        return list(local) if local is not None else [jax.local_devices()[0]]
    own = jax.local_devices()
    if local is None:
        positions = list(range(len(own)))
    else:
        positions = []
        for d in local:
            if d not in own:
                raise MXNetError(f"device {d} is not a local device of process {jax.process_index()}")
            positions.append(own.index(d))
    out = []
    for p in range(jax.process_count()):
        theirs = [d for d in jax.devices() if d.process_index == p]
        if max(positions) >= len(theirs):
            raise MXNetError(f"process {p} has {len(theirs)} device(s), fewer than the context "
                             f"list asks for (local positions {positions})")
        out.extend(theirs[i] for i in positions)
    return out


# -- writing files once --------------------------------------------------------------------------
def is_writer() -> bool:
    """Whether this process writes shared files (checkpoints): process 0."""
    return process_index() == 0


@contextlib.contextmanager
def single_writer(name: str = "modjax_checkpoint") -> Iterator[bool]:
    """``with single_writer() as write: if write: ...``: only process 0 writes; then every
    process passes a barrier (nested blocks add no barrier)."""
    depth = getattr(_WRITE_DEPTH, "value", 0)
    if depth or process_count() == 1:
        yield True
        return
    _WRITE_DEPTH.value = depth + 1
    try:
        yield is_writer()
    finally:
        _WRITE_DEPTH.value = depth
        barrier(name)


_auto_initialize()
