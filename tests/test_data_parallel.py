"""Data parallelism over a context list, on 4 fake CPU devices in a subprocess."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def result():
    env = dict(os.environ)
    env["XLA_FLAGS"] = ("--xla_force_host_platform_device_count=4 "
                        "--xla_cpu_collective_call_terminate_timeout_seconds=20")
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, os.path.join(HERE, "dist", "data_parallel_check.py")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_four_devices_train_the_same_params_as_one(result):
    assert result["devices"] == 4
    assert result["mlp_max_diff"] < 1e-5
    assert result["lstm_max_diff"] < 1e-5
    assert result["score"][0] == pytest.approx(result["score"][1])


def test_outputs_per_device(result):
    assert result["n_parts"] == [4]  # one output, four device slices
    assert result["part_shapes"] == [[4, 4]] * 4


def test_bad_configurations(result):
    errors = result["errors"]
    assert "uneven work_load_list [1, 1, 1, 2] is not supported" in errors["work_load_list"]
    assert "batch size 6 (axis 0), which does not split evenly over 4 devices" in errors["uneven_batch"]
    assert "device cpu(7) is not available: this machine has 4 cpu device(s)" in errors["missing_device"]
