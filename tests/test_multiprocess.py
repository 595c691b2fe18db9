"""Multi-process training: ``python -m modjax.launch -n 2`` on loopback (gloo collectives),
two processes x one CPU device, ``kvstore='dist_sync'``, against one process.

Hang-proof: XLA's collective timeout is set, the launcher kills every worker with SIGKILL on
a failure or its own timeout, and every subprocess has a timeout (SIGKILL too).
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import modjax as mx
from modjax import distributed
from modjax.launch import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "dist", "dist_fit_check.py")
ROOT = os.path.dirname(HERE)


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODJAX_COORDINATOR", "MODJAX_NUM_PROCESSES", "MODJAX_PROCESS_ID",
                                "MODJAX_DISTRIBUTED_PID", "DMLC_"))}
    env["XLA_FLAGS"] = ("--xla_force_host_platform_device_count=1 "
                        "--xla_cpu_collective_call_terminate_timeout_seconds=20")
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _launch(args, timeout=100):
    """Start the launcher (it kills its workers itself after ``timeout - 10`` s)."""
    cmd = [sys.executable, "-m", "modjax.launch", "-n", "2", "--timeout", str(timeout - 10),
           sys.executable, SCRIPT] + list(args)
    return subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait(proc, timeout=100):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"launcher did not finish in {timeout} s:\n{out[-3000:]}")
    return proc.returncode, out


def _reference():
    spec = importlib.util.spec_from_file_location("dist_fit_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mx.random.seed(0)
    mlp_params, info = mod.mlp(0, 1)
    lstm_params, ppl = mod.lstm(0, 1)
    return mlp_params, lstm_params, dict(info, lstm_ppl=ppl)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = _launch(["fit", str(out)])
    try:
        ref = _reference()  # while the workers run
    finally:
        rc, log = _wait(proc)
    assert rc == 0, log[-4000:]
    ranks = []
    for r in range(2):
        arrays = np.load(out / f"rank{r}.npz")
        with open(out / f"rank{r}.json") as f:
            ranks.append(({k: arrays[k] for k in arrays.files}, json.load(f)))
    return ref, ranks, out


def _max_diff(a, b):
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def test_two_processes_train_the_same_params_as_one(run):
    (ref_mlp, ref_lstm, _), ranks, _ = run
    params = ranks[0][0]
    assert _max_diff(ref_mlp, {k: params["mlp/" + k] for k in ref_mlp}) < 1e-5
    assert _max_diff(ref_lstm, {k: params["lstm/" + k] for k in ref_lstm}) < 1e-5


def test_both_processes_hold_identical_params(run):
    _, ranks, _ = run
    (p0, _), (p1, _) = ranks
    assert sorted(p0) == sorted(p1)
    for k in p0:
        np.testing.assert_array_equal(p0[k], p1[k], err_msg=k)


def test_random_init_is_process_0s_draw(run):
    _, ranks, _ = run
    assert ranks[0][1]["random_init"] == ranks[1][1]["random_init"]


def test_metrics_cover_every_process(run):
    (_, _, ref), ranks, _ = run
    for _, info in ranks:
        assert info["train_acc"] == pytest.approx(ref["train_acc"], abs=1e-12)
        assert info["score_ce"] == pytest.approx(ref["score_ce"], rel=1e-5)
        assert info["lstm_ppl"] == pytest.approx(ref["lstm_ppl"], rel=1e-5)
        assert info["rescale_grad"] == pytest.approx(1 / 16)  # 1 / (local batch 8 * 2 workers)
        assert info["out_shape"] == [8, 4]  # get_outputs: this worker's share
    assert ref["out_shape"] == [16, 4]


def test_only_process_0_writes_checkpoints(run):
    (ref_mlp, _, _), ranks, out = run
    assert ranks[1][1]["ckpt_files"] == []
    assert ranks[0][1]["ckpt_files"] == [
        "mlp-0001.params", "mlp-0002.params", "mlp-0003.params", "mlp-mod-0003.params",
        "mlp-mod-0003.states", "mlp-mod-symbol.json", "mlp-symbol.json"]
    _, arg, _ = mx.model.load_checkpoint(str(out / "ckpt_rank0" / "mlp"), 3)
    assert _max_diff(ref_mlp, {k: arg[k].asnumpy() for k in ref_mlp}) < 1e-5


def test_kvstore_across_processes(run):
    _, ranks, _ = run
    for rank, (_, info) in enumerate(ranks):
        assert (info["rank"], info["num_workers"], info["type"]) == (rank, 2, "dist_sync")
        assert info["init"] == 10.0  # process 0's value
        assert info["pushed_sum"] == [5.0, 5.0]  # (1 + 1) + (2 + 1) over two workers
        assert info["updated"] == pytest.approx(0.8)  # 1 - 0.1 * (1 + 1)


def test_processes_disagreeing_on_the_model():
    rc, log = _wait(_launch(["disagree"], timeout=60), timeout=60)
    assert rc == 0, log[-3000:]
    for rank in (0, 1):
        lines = [ln for ln in log.splitlines() if ln.startswith(f"[{rank}] ")]
        act = next(ln for ln in lines if "ERROR act" in ln or "NO ERROR act" in ln)
        shape = next(ln for ln in lines if "ERROR shape" in ln or "NO ERROR shape" in ln)
        assert "bind: the processes disagree on the model: the symbol of process(es) [1] " \
               "differ from process 0's" in act
        assert "shapes of process(es) [1] differ" in shape


def test_unreachable_coordinator_is_a_timeout_with_the_address():
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, "-c", "import modjax"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60,
                          env=_env(MODJAX_COORDINATOR=address, MODJAX_NUM_PROCESSES="2",
                                   MODJAX_PROCESS_ID="1", MODJAX_DIST_TIMEOUT="1.5"))
    assert proc.returncode != 0
    assert f"cannot reach the coordinator at {address} within 1.5 s" in proc.stderr


def test_busy_coordinator_port_is_a_clear_error():
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-c", "import modjax"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60,
                              env=_env(MODJAX_COORDINATOR=f"127.0.0.1:{port}",
                                       MODJAX_NUM_PROCESSES="2", MODJAX_PROCESS_ID="0"))
    assert proc.returncode != 0
    assert f"process 0 cannot serve the coordinator at 127.0.0.1:{port}: port {port} is not " \
           "free" in proc.stderr


def _launcher(args, timeout=30):
    return subprocess.run([sys.executable, "-m", "modjax.launch"] + args, cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_launcher_kills_the_others_when_one_fails():
    code = ("import os, sys, time\n"
            "r = int(os.environ['MODJAX_PROCESS_ID'])\n"
            "print('rank', r, os.environ['DMLC_WORKER_ID'], os.environ['DMLC_NUM_WORKER'], "
            "os.environ['MODJAX_COORDINATOR'] == os.environ['DMLC_PS_ROOT_URI'] + ':' + "
            "os.environ['DMLC_PS_ROOT_PORT'], flush=True)\n"
            "time.sleep(1 if r == 1 else 60)\n"  # rank 0 has printed by then
            "sys.exit(3)\n")
    proc = _launcher(["-n", "2", sys.executable, "-c", code])
    assert proc.returncode == 3
    assert "[0] rank 0 0 2 True" in proc.stdout and "[1] rank 1 1 2 True" in proc.stdout
    assert "[launch] process 1 exited with code 3" in proc.stdout


def test_launcher_timeout_kills_every_process():
    proc = _launcher(["-n", "2", "--timeout", "1", sys.executable, "-c",
                      "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                      "time.sleep(60)"])
    assert proc.returncode == 124
    assert "[launch] timeout after 1 s" in proc.stdout


def test_config_from_modjax_and_dmlc_variables(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("MODJAX_COORDINATOR", "MODJAX_NUM", "MODJAX_PROCESS", "DMLC_")):
            monkeypatch.delenv(k)
    assert distributed.resolve_config()["coordinator_address"] is None
    monkeypatch.setenv("DMLC_ROLE", "worker")
    monkeypatch.setenv("DMLC_PS_ROOT_URI", "10.0.0.1")
    monkeypatch.setenv("DMLC_PS_ROOT_PORT", "9091")
    monkeypatch.setenv("DMLC_NUM_WORKER", "4")
    monkeypatch.setenv("DMLC_WORKER_ID", "2")
    cfg = distributed.resolve_config()
    assert (cfg["coordinator_address"], cfg["num_processes"], cfg["process_id"]) == \
        ("10.0.0.1:9091", 4, 2)
    monkeypatch.setenv("MODJAX_COORDINATOR", "host0:1234")  # modjax's variables come first
    monkeypatch.setenv("MODJAX_PROCESS_ID", "1")
    cfg = distributed.resolve_config(num_processes=8)  # arguments come before both
    assert (cfg["coordinator_address"], cfg["num_processes"], cfg["process_id"]) == \
        ("host0:1234", 8, 1)
    monkeypatch.delenv("MODJAX_COORDINATOR")
    monkeypatch.delenv("MODJAX_PROCESS_ID")
    monkeypatch.setenv("DMLC_ROLE", "server")
    with pytest.raises(mx.MXNetError, match="modjax runs no parameter servers"):
        distributed.resolve_config()


def test_initialize_errors(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("MODJAX_COORDINATOR", "MODJAX_NUM", "MODJAX_PROCESS", "DMLC_")):
            monkeypatch.delenv(k)
    with pytest.raises(mx.MXNetError, match="no coordinator configured"):
        distributed.initialize()
    assert distributed.initialize(required=False) is False
    assert not distributed.is_initialized()
    with pytest.raises(mx.MXNetError, match="process_id 5 is not in"):
        distributed.initialize("127.0.0.1:1", 2, 5)
    with pytest.raises(mx.MXNetError, match="num_processes, process_id not set"):
        distributed.initialize("127.0.0.1:1")
    mx.nd.ones(2).asnumpy()  # JAX is running in this process: too late to join a job
    with pytest.raises(mx.MXNetError, match="must run before JAX's first computation"):
        distributed.initialize("127.0.0.1:1", 2, 1)
