"""NDArray: views, assignment, arithmetic (MXNet's broadcasting and integer rules), devices, files."""
import numpy as np
import pytest

import modjax as mx
from modjax.base import MXNetError, ShapeError


def test_creation_and_introspection():
    a = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    assert a.shape == (2, 3) and a.size == 6 and a.ndim == 2 and a.dtype == np.float32
    assert a.context == mx.cpu(0)
    import jax
    wide = np.int64 if jax.config.jax_enable_x64 else np.int32  # 64-bit types need JAX's x64 mode
    assert mx.nd.array(np.arange(3, dtype=np.int64)).dtype == wide  # numpy keeps its dtype
    assert mx.nd.zeros((2, 2), dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(mx.nd.full((2,), 7).asnumpy(), [7, 7])
    np.testing.assert_array_equal(mx.nd.arange(0, 6, 2, repeat=2).asnumpy(), [0, 0, 2, 2, 4, 4])
    assert mx.nd.ones((1,)).asscalar() == 1.0
    with pytest.raises(MXNetError, match="not a scalar"):
        a.asscalar()


def test_views_write_through():
    a = mx.nd.zeros((3, 4))
    row = a[1]
    row[:] = 5
    assert a.asnumpy()[1].tolist() == [5, 5, 5, 5]
    a[0:2] = 1
    assert row.asnumpy().tolist() == [1, 1, 1, 1]  # the view reads its base
    r = a.reshape((4, 3))
    r[:] = np.arange(12).reshape(4, 3)
    assert a.asnumpy().ravel().tolist() == list(range(12))
    a[:, 1] = -1
    assert a.asnumpy()[:, 1].tolist() == [-1, -1, -1]
    fancy = a[mx.nd.array([0, 2])]  # advanced indexing copies
    fancy[:] = 100
    assert a.asnumpy().max() == 11
    with pytest.raises(IndexError):
        a[3]


def test_reshape_special_codes():
    a = mx.nd.zeros((2, 3, 4))
    assert a.reshape((4, 0, 2)).shape == (4, 3, 2)
    assert a.reshape((-3, 4)).shape == (6, 4)
    assert a.reshape((-4, 1, 2, -2)).shape == (1, 2, 3, 4)
    assert a.reshape((2, -4, -1, 3, -2)).shape == (2, 1, 3, 4)
    assert mx.nd.zeros((10, 5, 4)).reshape((-1, 0), reverse=True).shape == (50, 4)
    with pytest.raises(ShapeError):
        a.reshape((5, -1))


def test_arithmetic_broadcasting_and_integer_rules():
    a = mx.nd.array([[1, 2], [3, 4]])
    b = mx.nd.array([10, 20])
    np.testing.assert_array_equal((a + b).asnumpy(), [[11, 22], [13, 24]])  # NDArray broadcasts
    np.testing.assert_array_equal((1 - a).asnumpy(), [[0, -1], [-2, -3]])
    i = mx.nd.array([1, 2, -7], dtype="int32")
    np.testing.assert_array_equal((i + 1.5).asnumpy(), [2, 3, -6])  # scalar cast to int first
    np.testing.assert_array_equal((i * 0.5).asnumpy(), [0, 0, 0])
    np.testing.assert_array_equal((i % 3).asnumpy(), [1, 2, 2])  # Python sign rules
    np.testing.assert_array_equal((i / 2).asnumpy(), [0, 1, -3])  # C truncation
    np.testing.assert_array_equal((a > 2).asnumpy(), [[0, 0], [1, 1]])
    assert (a > 2).dtype == np.float32
    c = a.copy()
    c += 1
    c *= b
    np.testing.assert_array_equal(c.asnumpy(), [[20, 60], [40, 100]])
    np.testing.assert_array_equal(a.asnumpy(), [[1, 2], [3, 4]])  # copy is independent
    with pytest.raises(ShapeError, match="in-place operation would change shape"):
        b += a


def test_copyto_astype_transpose_and_contexts():
    a = mx.nd.array([[1.5, 2.5]])
    b = mx.nd.zeros((1, 2), dtype="int32")
    a.copyto(b)
    assert b.asnumpy().tolist() == [[1, 2]] and b.dtype == np.int32
    with pytest.raises(ShapeError, match="copyto: shape mismatch"):
        a.copyto(mx.nd.zeros((2, 2)))
    assert a.astype("float16").dtype == np.float16
    assert a.T.shape == (2, 1)
    assert a.as_in_context(mx.cpu()) is a
    with pytest.raises(MXNetError, match=r"device gpu\(0\) is not available"):
        mx.nd.zeros((2,), ctx=mx.gpu(0))
    with pytest.raises(MXNetError, match="unknown device type"):
        mx.Context("npu", 0)
    with mx.Context("cpu", 0):
        assert mx.current_context() == mx.cpu(0)


def test_operators_eagerly():
    x = mx.nd.array(np.arange(6).reshape(2, 3))
    w = mx.nd.ones((4, 3))
    out = mx.nd.FullyConnected(x, w, num_hidden=4, no_bias=True)
    np.testing.assert_array_equal(out.asnumpy(), [[3] * 4, [12] * 4])
    assert mx.nd.sum(x).shape == (1,)  # legacy full reduction
    np.testing.assert_allclose(mx.nd.softmax(x).asnumpy().sum(axis=1), [1, 1], rtol=1e-6)
    buf = mx.nd.zeros((2, 3))
    mx.nd.relu(x - 2, out=buf)
    np.testing.assert_array_equal(buf.asnumpy(), [[0, 0, 0], [1, 2, 3]])
    with pytest.raises(MXNetError, match="missing inputs"):
        mx.nd.FullyConnected(x, num_hidden=4)


def test_save_load_round_trip(tmp_path):
    d = {"arg:w": mx.nd.array(np.arange(6).reshape(2, 3)), "aux:m": mx.nd.array([1, 2], dtype="int32")}
    mx.nd.save(str(tmp_path / "d.params"), d)
    back = mx.nd.load(str(tmp_path / "d.params"))
    assert list(back) == ["arg:w", "aux:m"]
    assert back["aux:m"].dtype == np.int32
    np.testing.assert_array_equal(back["arg:w"].asnumpy(), d["arg:w"].asnumpy())
    mx.nd.save(str(tmp_path / "l.params"), [mx.nd.ones((2,)), mx.nd.zeros((1, 1))])
    lst = mx.nd.load(str(tmp_path / "l.params"))
    assert isinstance(lst, list) and lst[1].shape == (1, 1)
    with pytest.raises(MXNetError, match="a dict must map str to NDArray"):
        mx.nd.save(str(tmp_path / "bad.params"), {"x": np.ones(2)})
    with pytest.raises(MXNetError):
        mx.nd.load(str(tmp_path / "missing.params"))
