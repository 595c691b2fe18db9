"""mx.image functions, augmenters and ImageIter against real MXNet 1.9.1 (tests/golden/recordio).

Decoding is exact (libjpeg-turbo / libpng semantics). Resizing goes through Pillow: nearest is
exact, bilinear within 1 of OpenCV's fixed-point rounding, and the other filters close.
Random augmenters are checked for their distributions and for following ``mx.random.seed``.
"""
import colorsys
import json
import os

import numpy as np
import pytest

import modjax as mx
from modjax.base import MXNetError

D = os.path.join(os.path.dirname(__file__), "golden", "recordio")
IMAGES = ["img0.png", "img1.png", "img2.jpg", "img3.jpg", "img4.png", "img5.png", "img6.png",
          "img7.jpg"]
# (max abs diff, mean abs diff) allowed per OpenCV interpolation code against MXNet's output
RESIZE_TOL = {0: (0, 0), 1: (1, 0.5), 2: (3, 0.7), 3: (12, 2.0), 4: (10, 2.0)}


@pytest.fixture(scope="module")
def gold():
    return np.load(os.path.join(D, "goldens.npz"))


@pytest.fixture(scope="module")
def meta():
    with open(os.path.join(D, "goldens.json")) as f:
        return json.load(f)


def raw(name):
    with open(os.path.join(D, name), "rb") as f:
        return f.read()


def close(a, ref, max_diff, mean_diff=None):
    a = a.asnumpy() if isinstance(a, mx.nd.NDArray) else np.asarray(a)
    assert a.shape == ref.shape
    d = np.abs(a.astype(np.float64) - ref)
    assert d.max() <= max_diff, d.max()
    if mean_diff is not None:
        assert d.mean() <= mean_diff, d.mean()


def test_imdecode_is_exact(gold):
    for name in IMAGES:
        for flag, rgb, tag in [(1, 1, "c"), (0, 1, "g"), (1, 0, "bgr")]:
            out = mx.image.imdecode(raw(name), flag=flag, to_rgb=rgb)
            assert isinstance(out, mx.nd.NDArray) and out.dtype == np.uint8
            np.testing.assert_array_equal(out.asnumpy(), gold[f"imdecode/{name}/{tag}"])


def test_imread_and_decode_errors(tmp_path, gold):
    np.testing.assert_array_equal(mx.image.imread(os.path.join(D, "img3.jpg")).asnumpy(),
                                  gold["imdecode/img3.jpg/c"])
    assert mx.img.imread(os.path.join(D, "img4.png"), flag=0).shape == (26, 34, 1)
    with pytest.raises(MXNetError, match="cannot open"):
        mx.image.imread(str(tmp_path / "nope.jpg"))
    with pytest.raises(MXNetError, match="Decoding failed"):
        mx.image.imdecode(b"garbage" * 10)
    with pytest.raises(MXNetError, match="Decoding failed"):
        mx.image.imdecode(raw("img3.jpg")[:300])  # truncated JPEG
    with pytest.raises(ValueError):
        mx.image.imdecode("not bytes")
    buf = mx.nd.array(np.frombuffer(raw("img0.png"), np.uint8), dtype=np.uint8)
    np.testing.assert_array_equal(mx.image.imdecode(buf).asnumpy(), gold["imdecode/img0.png/c"])


def test_imresize_matches_opencv(gold):
    img0 = mx.image.imdecode(raw("img0.png"))
    for interp, (mx_d, mean_d) in RESIZE_TOL.items():
        for w, h in [(40, 30), (20, 15), (32, 20)]:
            out = mx.image.imresize(img0, w, h, interp=interp)
            close(out, gold[f"imresize/{interp}/{w}x{h}"], mx_d, mean_d)
    img3 = mx.image.imdecode(raw("img3.jpg"))
    for interp in (1, 2, 3):
        close(mx.image.resize_short(img3, 20, interp), gold[f"resize_short/{interp}"],
              *RESIZE_TOL[interp])
    f = mx.image.imresize(img0.astype("float32") / 255, 20, 15, interp=1)
    assert f.dtype == np.float32 and f.shape == (15, 20, 3)
    close(f.asnumpy() * 255, gold["imresize/1/20x15"], 1.01)


def test_crops_normalize_border(gold, meta):
    img0 = mx.image.imdecode(raw("img0.png"))
    np.testing.assert_array_equal(mx.image.fixed_crop(img0, 2, 3, 10, 12).asnumpy(),
                                  gold["fixed_crop/plain"])
    close(mx.image.fixed_crop(img0, 2, 3, 10, 12, size=(16, 16), interp=1), gold["fixed_crop/size"], 1)
    out, rect = mx.image.center_crop(img0, (20, 16))
    np.testing.assert_array_equal(out.asnumpy(), gold["center_crop/small"])
    assert list(rect) == meta["center_crop/small"]
    out, rect = mx.image.center_crop(img0, (40, 40), interp=1)
    close(out, gold["center_crop/big"], 1)
    assert list(rect) == meta["center_crop/big"]
    mean, std = mx.nd.array([120.0, 110.0, 100.0]), mx.nd.array([50.0, 60.0, 70.0])
    np.testing.assert_allclose(mx.image.color_normalize(img0.astype("float32"), mean, std).asnumpy(),
                               gold["color_normalize"], rtol=1e-6)
    for src, size, expected in meta["scale_down"]:
        assert list(mx.image.scale_down(tuple(src), tuple(size))) == expected
    for t in range(5):
        out = mx.image.copyMakeBorder(img0, 1, 2, 3, 4, type=t, values=(10, 20, 30))
        np.testing.assert_array_equal(out.asnumpy(), gold[f"copyMakeBorder/{t}"])


def test_numpy_in_numpy_out():
    img = mx.image.imdecode(raw("img0.png")).asnumpy()
    assert isinstance(mx.image.resize_short(img, 10), np.ndarray)
    assert isinstance(mx.image.CenterCropAug((8, 8))(img), np.ndarray)
    assert isinstance(mx.image.center_crop(mx.nd.array(img, dtype=np.uint8), (8, 8))[0],
                      mx.nd.NDArray)


def test_deterministic_augmenters_match_mxnet(gold, meta):
    img0, img3 = mx.image.imdecode(raw("img0.png")), mx.image.imdecode(raw("img3.jpg"))
    mean, std = mx.nd.array([120.0, 110.0, 100.0]), mx.nd.array([50.0, 60.0, 70.0])
    np.testing.assert_array_equal(mx.image.CastAug()(img0).asnumpy(), gold["aug/cast"])
    np.testing.assert_array_equal(mx.image.HorizontalFlipAug(1.0)(img0).asnumpy(), gold["aug/flip"])
    np.testing.assert_array_equal(mx.image.CenterCropAug((20, 16), 1)(img0).asnumpy(),
                                  gold["aug/centercrop"])
    close(mx.image.ResizeAug(20, 1)(img3), gold["aug/resize"], 1)
    close(mx.image.ForceResizeAug((20, 18), 1)(img3), gold["aug/forceresize"], 1)
    np.testing.assert_allclose(mx.image.ColorNormalizeAug(mean, std)(img0.astype("float32")).asnumpy(),
                               gold["aug/colornorm"], rtol=1e-6)
    x = img3
    for aug in mx.image.CreateAugmenter((3, 20, 20), resize=22, mean=True, std=True, inter_method=1):
        x = aug(x)
    close(x, gold["aug/create_pipeline"], 1.01 / 57.0)
    augs = mx.image.CreateAugmenter((3, 20, 20), resize=24, rand_crop=True, rand_resize=True,
                                    rand_mirror=True, mean=True, std=True, brightness=0.1,
                                    contrast=0.2, saturation=0.3, hue=0.1, pca_noise=0.05,
                                    rand_gray=0.2, inter_method=10)
    assert [a.dumps() for a in augs] == meta["create_augmenter_dumps"]


def _img():
    return mx.image.imdecode(raw("img7.jpg")).asnumpy()  # 30x45


def test_random_augmenters_follow_mx_random_seed():
    img = _img().astype(np.float32)

    def run():  # RandomOrderAug (in ColorJitterAug) reorders itself in place, as in MXNet
        augs = mx.image.CreateAugmenter((3, 20, 20), rand_crop=True, rand_resize=True,
                                        rand_mirror=True, brightness=0.3, contrast=0.3,
                                        saturation=0.3, hue=0.1, pca_noise=0.1, rand_gray=0.3)
        outs = []
        for _ in range(5):
            x = img
            for a in augs:
                x = a(x)
            outs.append(x)
        return np.stack(outs)

    mx.random.seed(11)
    a = run()
    mx.random.seed(11)
    b = run()
    mx.random.seed(12)
    c = run()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (5, 20, 20, 3) and a.dtype == np.float32


def test_flip_and_crop_distributions():
    img = _img()
    flip = mx.image.HorizontalFlipAug(0.5)
    flips = sum(not np.array_equal(flip(img), img) for _ in range(400))
    assert 150 < flips < 250
    xs, ys = set(), set()
    for _ in range(300):
        _, (x0, y0, w, h) = mx.image.random_crop(img, (20, 20))
        assert (w, h) == (20, 20)
        xs.add(x0)
        ys.add(y0)
    assert xs == set(range(0, 26)) and ys == set(range(0, 11))  # uniform over every offset
    ratios, areas = [], []
    for _ in range(300):
        out, (x0, y0, w, h) = mx.image.random_size_crop(img, (16, 16), (0.3, 0.9), (0.75, 1.33))
        assert out.shape == (16, 16, 3) and x0 + w <= 45 and y0 + h <= 30
        ratios.append(w / h)
        areas.append(w * h / (45 * 30))
    assert 0.6 < min(ratios) and max(ratios) < 1.5 and 0.2 < min(areas) and max(areas) < 1.0


def test_color_augmenter_formulas():
    img = _img().astype(np.float32)
    gray_coef = np.array([0.299, 0.587, 0.114], np.float32)
    for _ in range(20):
        out = mx.image.BrightnessJitterAug(0.4)(img)
        alpha = out[0, 0, 0] / img[0, 0, 0]
        assert 0.6 - 1e-4 <= alpha <= 1.4 + 1e-4
        np.testing.assert_allclose(out, img * alpha, rtol=1e-4)
    out = mx.image.ContrastJitterAug(0.5)(img)
    gray_mean = (img * gray_coef).sum() / (img.size / 3)
    alpha = (out[0, 0, 0] - out[0, 0, 1]) / (img[0, 0, 0] - img[0, 0, 1])
    np.testing.assert_allclose(out, img * alpha + (1 - alpha) * gray_mean, rtol=1e-3, atol=1e-2)
    out = mx.image.SaturationJitterAug(0.5)(img)
    gray = (img * gray_coef).sum(axis=2, keepdims=True)
    alpha = (out[0, 0, 0] - out[0, 0, 1]) / (img[0, 0, 0] - img[0, 0, 1])
    np.testing.assert_allclose(out, img * alpha + (1 - alpha) * gray, rtol=1e-3, atol=1e-2)
    out = mx.image.LightingAug(0.1, np.array([55.46, 4.794, 1.148]), np.eye(3))(img)
    shift = (out - img).reshape(-1, 3)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-3)
    gray_out = mx.image.RandomGrayAug(1.0)(img)
    np.testing.assert_allclose(gray_out[..., 0], gray_out[..., 2], rtol=1e-5)
    np.testing.assert_allclose(mx.image.HueJitterAug(1e-9)(img), img, atol=1.5)
    shifts = [mx.image.LightingAug(0.1, np.array([55.46, 4.794, 1.148]), np.eye(3))(img)[0, 0, 0]
              - img[0, 0, 0] for _ in range(300)]
    assert 3.5 < np.std(shifts) < 7.5  # alpha ~ N(0, 0.1) times eigval 55.46
    order_aug = mx.image.RandomOrderAug([mx.image.CastAug(), mx.image.CastAug("float64")])
    assert order_aug(img).dtype in (np.float32, np.float64)
    assert len(mx.image.ColorJitterAug(0.1, 0, 0.2).ts) == 2


def test_augmenters_accept_ndarrays_and_custom_subclasses():
    class Invert(mx.image.Augmenter):
        def __call__(self, src):
            assert isinstance(src, mx.nd.NDArray)  # MXNet-style augmenters get NDArrays
            return 255 - src

    it = mx.image.ImageIter(3, (3, 20, 20), path_imgrec=os.path.join(D, "img.rec"),
                            aug_list=[mx.image.CenterCropAug((20, 20), 1), mx.image.CastAug(),
                                      Invert()])
    ref = mx.image.ImageIter(3, (3, 20, 20), path_imgrec=os.path.join(D, "img.rec"), inter_method=1)
    np.testing.assert_allclose(it.next().data[0].asnumpy(), 255 - ref.next().data[0].asnumpy())


IMAGE_ITER = {
    "rec": dict(path_imgrec="img.rec"),
    "rec_norm": dict(path_imgrec="img.rec", resize=22, mean=True, std=True),
    "idx_parts": dict(path_imgrec="img.rec", path_imgidx="img.idx", num_parts=2, part_index=1),
    "list": dict(path_imglist="img_files.lst", path_root=D),
    "discard": dict(path_imgrec="img.rec", last_batch_handle="discard"),
    "rollover": dict(path_imgrec="img.rec", last_batch_handle="roll_over"),
    "multi": dict(path_imgrec="img_multi.rec", label_width=3),
}


@pytest.mark.parametrize("name", sorted(IMAGE_ITER))
def test_image_iter_matches_mxnet(name, gold, meta):
    kw = {k: (os.path.join(D, v) if k.startswith("path_img") else v)
          for k, v in IMAGE_ITER[name].items()}
    it = mx.image.ImageIter(batch_size=3, data_shape=(3, 20, 20), inter_method=1, **kw)
    info = meta["iiter"][name]
    assert list(it.provide_data[0][1]) == info["provide_data"]
    assert list(it.provide_label[0][1]) == info["provide_label"]
    tol = 1.01 / 57.0 if name == "rec_norm" else 1
    for epoch in range(3):
        got = list(it)
        it.reset()
        assert [[b.label[0].asnumpy().tolist(), b.pad] for b in got] == info["epochs"][epoch]
        if epoch == 0:
            for j, b in enumerate(got):
                close(b.data[0], gold[f"iiter/{name}/0/{j}"], tol)


def test_image_iter_shuffle_follows_seed_and_hard_reset():
    def labels(seed):
        mx.random.seed(seed)
        it = mx.image.ImageIter(2, (3, 16, 16), path_imgrec=os.path.join(D, "img.rec"),
                                path_imgidx=os.path.join(D, "img.idx"), shuffle=True,
                                last_batch_handle="discard")
        return [b.label[0].asnumpy().tolist() for b in it]

    assert labels(3) == labels(3)
    assert labels(3) != labels(4)
    assert sorted(sum(labels(3), [])) == sorted([i % 4 for i in range(10)])
    it = mx.image.ImageIter(3, (3, 16, 16), path_imgrec=os.path.join(D, "img.rec"),
                            last_batch_handle="roll_over")
    assert len(list(it)) == 3
    it.hard_reset()
    assert [b.pad for b in it] == [0, 0, 0]


def test_image_iter_errors(tmp_path):
    rec = tmp_path / "bad.rec"
    w = mx.recordio.MXRecordIO(str(rec), "w")
    w.write(mx.recordio.pack(mx.recordio.IRHeader(0, 0.0, 1, 0), raw("img0.png")))
    w.write(mx.recordio.pack(mx.recordio.IRHeader(0, 1.0, 77, 0), b"not an image"))
    w.close()
    it = mx.image.ImageIter(2, (3, 8, 8), path_imgrec=str(rec))
    with pytest.raises(MXNetError, match=r"Broken image record 77 of '.*bad\.rec'"):
        it.next()
    with pytest.raises(MXNetError):
        mx.image.ImageIter(2, (3, 8, 8))
    with pytest.raises(ValueError, match="3 channels"):
        mx.image.ImageIter(2, (1, 8, 8), path_imgrec=str(rec))
    lst = tmp_path / "x.lst"
    lst.write_text("0\t1.0\tmissing.png\n")
    it = mx.image.ImageIter(1, (3, 8, 8), path_imglist=str(lst), path_root=str(tmp_path))
    with pytest.raises(MXNetError, match="missing.png"):
        it.next()


def test_hls_helpers_match_colorsys():
    from modjax.image._default_aug import _hls8_to_rgb, _rgb_to_hls8
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (16, 16, 3)).astype(np.uint8)
    h, l, s = _rgb_to_hls8(img)
    for (i, j) in [(0, 0), (3, 7), (15, 15), (8, 2)]:
        hh, ll, ss = colorsys.rgb_to_hls(*(img[i, j] / 255.0))
        assert abs(h[i, j] - hh * 180) <= 1 and abs(l[i, j] - ll * 255) <= 1
        assert abs(s[i, j] - ss * 255) <= 1
    assert np.abs(_hls8_to_rgb(h, l, s).astype(int) - img).max() <= 4
