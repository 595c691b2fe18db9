import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
# compile counts in the tests must not depend on executables earlier runs stored on disk; the
# store's own tests (test_exec_store.py) turn it on with their own directories
os.environ.setdefault("MODJAX_EXECUTABLE_STORE", "off")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import modjax as mx  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)
    np.random.seed(0)
    yield
