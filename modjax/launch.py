"""Start N local worker processes on loopback, as MXNet's local launcher did.

    python -m modjax.launch -n 2 [--port P] [--timeout S] python train.py --kv-store dist_sync

Each process gets ``MODJAX_COORDINATOR=127.0.0.1:<port>``, ``MODJAX_NUM_PROCESSES``,
``MODJAX_PROCESS_ID`` and MXNet's equivalents (``DMLC_ROLE=worker``, ``DMLC_NUM_WORKER``,
``DMLC_WORKER_ID``, ``DMLC_PS_ROOT_URI``, ``DMLC_PS_ROOT_PORT``); ``import modjax`` then joins
the job (:mod:`modjax.distributed`). Output lines are prefixed with the rank (``[0] ...``). If a
process exits non-zero, or ``--timeout`` seconds pass, the others are killed with SIGKILL
(``jax.distributed`` traps SIGTERM) and the launcher exits non-zero: the failing process's code,
or 124 on a timeout. On clusters, start one process per host yourself (or let SLURM / a TPU pod
do it) with the same variables, or rely on JAX's cluster detection.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Sequence

__all__ = ["main", "worker_env", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def worker_env(rank: int, n: int, host: str, port: int, base: dict | None = None) -> dict:
    """The environment of worker ``rank`` of ``n``."""
    env = dict(os.environ if base is None else base)
    env.pop("MODJAX_DISTRIBUTED_PID", None)
    env.update({
        "MODJAX_COORDINATOR": f"{host}:{port}", "MODJAX_NUM_PROCESSES": str(n),
        "MODJAX_PROCESS_ID": str(rank),
        "DMLC_ROLE": "worker", "DMLC_NUM_WORKER": str(n), "DMLC_WORKER_ID": str(rank),
        "DMLC_PS_ROOT_URI": host, "DMLC_PS_ROOT_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _pump(rank: int, stream: IO[bytes], out: IO[str], lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        with lock:
            out.write(f"[{rank}] {line}\n")
            out.flush()
    stream.close()


def _kill(procs: Sequence[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the worker and anything it started
            except (ProcessLookupError, PermissionError):
                try:
                    p.kill()
                except ProcessLookupError:
                    pass


def run(command: Sequence[str], n: int, port: int | None = None, timeout: float | None = None,
        host: str = "127.0.0.1", out: IO[str] | None = None) -> int:
    """Run ``command`` as ``n`` workers; the exit code (see the module docstring)."""
    out = out or sys.stdout
    port = port or free_port(host)
    lock = threading.Lock()
    procs: list[subprocess.Popen] = []
    pumps = []
    for rank in range(n):
        p = subprocess.Popen(list(command), env=worker_env(rank, n, host, port),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(p)
        t = threading.Thread(target=_pump, args=(rank, p.stdout, out, lock), daemon=True)
        t.start()
        pumps.append(t)
    deadline = None if not timeout else time.monotonic() + timeout
    code = 0
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                with lock:
                    out.write(f"[launch] process {rank} exited with code {code}; killing the "
                              "others\n")
                break
            if all(c == 0 for c in codes):
                break
            if deadline is not None and time.monotonic() > deadline:
                with lock:
                    out.write(f"[launch] timeout after {timeout:g} s; killing every process\n")
                code = 124
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        code = 130
    finally:
        _kill(procs)
        for p in procs:
            p.wait()
        for t in pumps:
            t.join(timeout=5)
    out.flush()
    return code if code >= 0 else 128 - code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m modjax.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--num-workers", type=int, required=True,
                        help="number of worker processes")
    parser.add_argument("--port", type=int, default=None,
                        help="coordinator port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="kill every worker after this many seconds (exit code 124)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command each worker runs")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run, e.g. python train.py")
    if args.num_workers < 1:
        parser.error("-n must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return run(command, args.num_workers, args.port, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
