"""Recipes shared by the io/callback golden generator (run with MXNet) and the tests (modjax)."""
import numpy as np


def nd_inputs(kind):
    """Input arrays of the NDArrayIter cases."""
    x = np.arange(10 * 2, dtype=np.float64).reshape(10, 2)
    y = np.arange(10, dtype=np.int64)
    if kind == "single":
        return x, y
    if kind == "dict":
        return {"b_data": x, "a_data": x * 10 + 1}, {"z_label": y, "softmax_label": y * 2}
    if kind == "list_nolabel":
        return [x, x[:, :1] * -1], None
    if kind == "img":
        return np.arange(7 * 1 * 2 * 2, dtype=np.float32).reshape(7, 1, 2, 2), np.arange(7) % 3
    raise KeyError(kind)


class FakeMetric:
    """get_name_value gives changing values; reset_local is counted ."""

    def __init__(self, names):
        self.names, self.calls, self.resets = names, 0, 0

    def get_name_value(self):
        self.calls += 1
        return [(n, 0.125 * self.calls + i) for i, n in enumerate(self.names)]

    def reset_local(self):
        self.resets += 1


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        self.t += 0.5
        return self.t
