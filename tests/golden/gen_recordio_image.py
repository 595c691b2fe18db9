"""Write tests/golden/recordio/ from real MXNet 1.9.1 (mx.recordio, mx.image, ImageRecordIter).

Run with the MXNet reference venv (never from the project venv); it needs Pillow there to
encode the generated images (``~/.mxnet-ref/bin/pip install pillow``)::

    /root/.mxnet-ref/bin/python tests/golden/gen_recordio_image.py

Everything is generated here from fixed seeds (no downloads): small images (PNG and JPEG bytes
are stored as files, so tests do not depend on an encoder version), ``.rec``/``.idx`` files
written by MXNet's own MXIndexedRecordIO, and MXNet's outputs in ``goldens.npz`` (arrays) and
``goldens.json`` (everything else).
"""
import io
import json
import logging
import os
import shutil
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
import mxnet as mx  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "recordio")
MAGIC = b"\x0a\x23\xd7\xce"


def record_payloads():
    """The payloads of records.rec (tests rebuild the same list)."""
    rng = np.random.RandomState(7)
    return [b"", b"a", b"ab", b"abc", b"abcd", b"hello world!", MAGIC, MAGIC + b"xyz",
            b"abcd" + MAGIC + MAGIC + b"tail", b"ab" + MAGIC + b"cd", b"1234567" + MAGIC,
            b"12345678" + MAGIC, rng.bytes(1000), rng.bytes(333) + MAGIC + rng.bytes(64)]


def smooth(h, w, seed):
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a, b, c = rng.uniform(0, 6.28, 3)
    img = np.stack([np.sin(xx / w * 3 + a), np.cos(yy / h * 4 + b),
                    np.sin((xx + yy) / (h + w) * 5 + c)], -1)
    img = (img * 0.5 + 0.5) * 220 + rng.normal(0, 3, (h, w, 3))
    return img.clip(0, 255).astype(np.uint8)


def make_images():
    """name -> encoded bytes."""
    specs = [("img0.png", smooth(24, 32, 0), "PNG"), ("img1.png", smooth(32, 24, 1), "PNG"),
             ("img2.jpg", smooth(28, 28, 2), "JPEG"), ("img3.jpg", smooth(40, 30, 3), "JPEG"),
             ("img4.png", smooth(26, 34, 4)[:, :, 1], "PNG"),
             ("img5.png", np.dstack([smooth(24, 24, 5), np.full((24, 24), 200, np.uint8)]), "PNG"),
             ("img6.png", smooth(12, 16, 6), "PNG"), ("img7.jpg", smooth(30, 45, 7), "JPEG")]
    out = {}
    for name, arr, fmt in specs:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
        out[name] = buf.getvalue()
    return out


IM2REC_TREE = [("a/x0.png", "img0.png"), ("a/x3.jpg", "img3.jpg"), ("b/y2.jpg", "img2.jpg"),
               ("b/y6.png", "img6.png"), ("b/sub/z1.png", "img1.png"), ("c/w7.jpg", "img7.jpg"),
               ("top.png", "img4.png"), ("a/notes.txt", "img0.png")]


def batches(it, epochs=2):
    res = []
    for _ in range(epochs):
        ep = []
        for b in it:
            ep.append((b.data[0].asnumpy(), b.label[0].asnumpy(), int(b.pad)))
        res.append(ep)
        it.reset()
    return res


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    arrays, meta = {}, {}

    # --- recordio: records written by MXNet, packs -------------------------------------------
    w = mx.recordio.MXIndexedRecordIO(os.path.join(OUT, "records.idx"),
                                      os.path.join(OUT, "records.rec"), "w")
    for i, p in enumerate(record_payloads()):
        w.write_idx(10 * i + 3, p)
    w.close()
    packs = []
    for header, payload in [((0, 3.5, 17, 0), b"xyz"), ((0, -1.25, 2 ** 40, 5), b""),
                            ((0, [1.0, 2.5, -3.0], 9, 0), b"payload"),
                            ((7, np.array([0.5], np.float32), 1, 2), b"q")]:
        s = mx.recordio.pack(mx.recordio.IRHeader(*header), payload)
        h, rest = mx.recordio.unpack(s)
        lab = h.label.tolist() if isinstance(h.label, np.ndarray) else h.label
        packs.append({"header": [header[0], np.asarray(header[1]).tolist(), header[2], header[3]],
                      "payload": payload.hex(), "packed": s.hex(),
                      "unpacked": [h.flag, lab, h.id, h.id2, rest.hex()]})
    meta["packs"] = packs

    # --- images --------------------------------------------------------------------------------
    images = make_images()
    for name, data in images.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    names = sorted(images)
    for name in names:
        for flag, rgb, tag in [(1, 1, "c"), (0, 1, "g"), (1, 0, "bgr")]:
            arrays[f"imdecode/{name}/{tag}"] = mx.image.imdecode(images[name], flag=flag,
                                                                 to_rgb=rgb).asnumpy()
    img0 = mx.image.imdecode(images["img0.png"])
    img3 = mx.image.imdecode(images["img3.jpg"])
    for interp in range(5):
        for w_, h_ in [(40, 30), (20, 15), (32, 20)]:
            arrays[f"imresize/{interp}/{w_}x{h_}"] = mx.image.imresize(img0, w_, h_,
                                                                       interp=interp).asnumpy()
    for interp in (1, 2, 3):
        arrays[f"resize_short/{interp}"] = mx.image.resize_short(img3, 20, interp).asnumpy()
    arrays["fixed_crop/plain"] = mx.image.fixed_crop(img0, 2, 3, 10, 12).asnumpy()
    arrays["fixed_crop/size"] = mx.image.fixed_crop(img0, 2, 3, 10, 12, size=(16, 16),
                                                    interp=1).asnumpy()
    out, rect = mx.image.center_crop(img0, (20, 16))
    arrays["center_crop/small"] = out.asnumpy()
    meta["center_crop/small"] = list(rect)
    out, rect = mx.image.center_crop(img0, (40, 40), interp=1)
    arrays["center_crop/big"] = out.asnumpy()
    meta["center_crop/big"] = list(rect)
    mean, std = mx.nd.array([120.0, 110.0, 100.0]), mx.nd.array([50.0, 60.0, 70.0])
    arrays["color_normalize"] = mx.image.color_normalize(img0.astype("float32"), mean, std).asnumpy()
    meta["scale_down"] = [[list(a), list(b), list(mx.image.scale_down(a, b))] for a, b in
                          [((640, 480), (720, 120)), ((100, 50), (20, 30)), ((30, 40), (60, 60)),
                           ((50, 50), (50, 50))]]
    for t in range(5):
        arrays[f"copyMakeBorder/{t}"] = mx.image.copyMakeBorder(img0, 1, 2, 3, 4, type=t,
                                                                values=(10, 20, 30)).asnumpy()
    arrays["aug/cast"] = mx.image.CastAug()(img0).asnumpy()
    arrays["aug/flip"] = mx.image.HorizontalFlipAug(1.0)(img0).asnumpy()
    arrays["aug/centercrop"] = mx.image.CenterCropAug((20, 16), 1)(img0).asnumpy()
    arrays["aug/resize"] = mx.image.ResizeAug(20, 1)(img3).asnumpy()
    arrays["aug/forceresize"] = mx.image.ForceResizeAug((20, 18), 1)(img3).asnumpy()
    arrays["aug/colornorm"] = mx.image.ColorNormalizeAug(mean, std)(img0.astype("float32")).asnumpy()
    x = img3
    for aug in mx.image.CreateAugmenter((3, 20, 20), resize=22, mean=True, std=True, inter_method=1):
        x = aug(x)
    arrays["aug/create_pipeline"] = x.asnumpy()
    augs = mx.image.CreateAugmenter((3, 20, 20), resize=24, rand_crop=True, rand_resize=True,
                                    rand_mirror=True, mean=True, std=True, brightness=0.1,
                                    contrast=0.2, saturation=0.3, hue=0.1, pca_noise=0.05,
                                    rand_gray=0.2, inter_method=10)
    meta["create_augmenter_dumps"] = [a.dumps() for a in augs]

    # --- record files of images ----------------------------------------------------------------
    order = ["img0.png", "img1.png", "img2.jpg", "img3.jpg", "img4.png", "img6.png", "img7.jpg",
             "img0.png", "img3.jpg", "img2.jpg"]
    w = mx.recordio.MXIndexedRecordIO(os.path.join(OUT, "img.idx"), os.path.join(OUT, "img.rec"), "w")
    wm = mx.recordio.MXIndexedRecordIO(os.path.join(OUT, "img_multi.idx"),
                                       os.path.join(OUT, "img_multi.rec"), "w")
    with open(os.path.join(OUT, "img_labels.lst"), "w") as lab, \
            open(os.path.join(OUT, "img_files.lst"), "w") as files:
        for i, name in enumerate(order):
            w.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i % 4), 100 + i, 0),
                                            images[name]))
            wm.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, [i, i + 0.5, -i], 100 + i, 0),
                                             images[name]))
            lab.write("%d\t%f\t%f\t%s\n" % (100 + i, i * 2.0, i * 3.0, name))
            files.write("%d\t%f\t%s\n" % (i, float(i % 3), name))
    w.close()
    wm.close()

    rec, idx = os.path.join(OUT, "img.rec"), os.path.join(OUT, "img.idx")
    base = dict(path_imgrec=rec, data_shape=(3, 20, 20), batch_size=3, preprocess_threads=1,
                verbose=False)
    configs = {
        "plain": {}, "norm": dict(mean_r=120, mean_g=110, mean_b=100, std_r=50, std_g=60,
                                  std_b=70, scale=0.5, mirror=True),
        "resize": dict(resize=22), "uint8": dict(dtype="uint8"),
        "int8": dict(dtype="int8", mean_r=128, mean_g=100, mean_b=90),
        "gray": dict(data_shape=(1, 20, 20)), "noround": dict(round_batch=False),
        "multi": dict(path_imgrec=os.path.join(OUT, "img_multi.rec"), label_width=3),
        "imglist": dict(path_imglist=os.path.join(OUT, "img_labels.lst"), label_width=2),
        "idx": dict(path_imgidx=idx),
        # deterministic geometry of the default augmenter: fixed rotation, padding, crop size
        "rotate": dict(rotate=30, fill_value=0), "pad": dict(pad=3, fill_value=7),
        "cropsize": dict(min_crop_size=12, max_crop_size=12),
        "imgsize": dict(max_img_size=22, resize=24),
    }
    meta["irec"] = {}
    for name, kw in configs.items():
        args = dict(base, **kw)
        it = mx.io.ImageRecordIter(**args)
        pd, pl = it.provide_data[0], it.provide_label[0]
        info = {"provide_data": [list(pd.shape), np.dtype(pd.dtype).name],
                "provide_label": [list(pl.shape), np.dtype(pl.dtype).name],
                "kwargs": {k: (os.path.basename(v) if isinstance(v, str) and os.sep in v else v)
                           for k, v in kw.items()}, "epochs": []}
        for e, ep in enumerate(batches(it)):
            info["epochs"].append([[b[1].tolist(), b[2]] for b in ep])
            for j, b in enumerate(ep if e == 0 else ()):  # pixels of the first epoch only
                arrays[f"irec/{name}/{e}/{j}"] = b[0]
        meta["irec"][name] = info
    it = mx.io.ImageRecordUInt8Iter(**base)
    arrays["irec_uint8iter"] = it.next().data[0].asnumpy()
    meta["irec_uint8iter_dtype"] = np.dtype(it.provide_data[0].dtype).name
    orders = {}
    for parts in (1, 3):
        for part in range(parts):
            for use_idx in (False, True):
                kw = dict(base, batch_size=2, num_parts=parts, part_index=part, round_batch=False)
                if use_idx:
                    kw["path_imgidx"] = idx
                it = mx.io.ImageRecordIter(**kw)
                orders[f"parts{parts}/{part}/{int(use_idx)}"] = [
                    [lab.tolist() for _, lab, _ in ep] for ep in batches(it, 1)]
    for use_idx in (False, True):
        kw = dict(base, path_imgrec=os.path.join(OUT, "img_multi.rec"), label_width=3,
                  shuffle=True, seed=5, batch_size=4)
        if use_idx:
            kw["path_imgidx"] = os.path.join(OUT, "img_multi.idx")
        it = mx.io.ImageRecordIter(**kw)
        orders[f"shuffle/{int(use_idx)}"] = [[[lab[:, 0].tolist(), pad] for _, lab, pad in ep]
                                            for ep in batches(it, 4)]
    meta["orders"] = orders

    # --- ImageIter -----------------------------------------------------------------------------
    ibase = dict(batch_size=3, data_shape=(3, 20, 20), inter_method=1)
    iconf = {
        "rec": dict(path_imgrec=rec), "rec_norm": dict(path_imgrec=rec, resize=22, mean=True, std=True),
        "idx_parts": dict(path_imgrec=rec, path_imgidx=idx, num_parts=2, part_index=1),
        "list": dict(path_imglist=os.path.join(OUT, "img_files.lst"), path_root=OUT),
        "discard": dict(path_imgrec=rec, last_batch_handle="discard"),
        "rollover": dict(path_imgrec=rec, last_batch_handle="roll_over"),
        "multi": dict(path_imgrec=os.path.join(OUT, "img_multi.rec"), label_width=3),
    }
    meta["iiter"] = {}
    for name, kw in iconf.items():
        it = mx.image.ImageIter(**dict(ibase, **kw))
        info = {"provide_data": list(it.provide_data[0][1]),
                "provide_label": list(it.provide_label[0][1]),
                "epochs": []}
        for e, ep in enumerate(batches(it, 3)):
            info["epochs"].append([[b[1].tolist(), b[2]] for b in ep])
            for j, b in enumerate(ep if e == 0 else ()):
                arrays[f"iiter/{name}/{e}/{j}"] = b[0]
        meta["iiter"][name] = info

    # --- MXNet's tools/im2rec.py on a generated folder tree ------------------------------------
    import hashlib
    import subprocess
    import sys
    import tempfile
    tool = os.path.join(os.path.dirname(mx.__file__), "tools", "im2rec.py")
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for rel, name in IM2REC_TREE:
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "wb") as f:
                f.write(images[name])
        prefix = os.path.join(tmp, "data")
        run = lambda *a: subprocess.run([sys.executable, tool, *a], check=True,  # noqa: E731
                                        capture_output=True, cwd=tmp)
        run("--list", "--recursive", "--train-ratio", "0.7", "--test-ratio", "0.1", prefix, root)
        lists = {n: open(os.path.join(tmp, n)).read() for n in sorted(os.listdir(tmp))
                 if n.endswith(".lst")}
        run("--list", "--no-shuffle", "--chunks", "2", os.path.join(tmp, "plain"), root)
        lists.update({n: open(os.path.join(tmp, n)).read() for n in sorted(os.listdir(tmp))
                      if n.startswith("plain") and n.endswith(".lst")})
        run("--pass-through", prefix + "_train", root)
        with open(prefix + "_train.rec", "rb") as f:
            passthrough = hashlib.sha256(f.read()).hexdigest()
        passthrough_idx = open(prefix + "_train.idx").read()
        run("--resize", "16", "--encoding", ".png", prefix + "_val", root)
        rec = mx.recordio.MXIndexedRecordIO(prefix + "_val.idx", prefix + "_val.rec", "r")
        packed = []
        for k in rec.keys:
            h, img = mx.recordio.unpack_img(rec.read_idx(k))
            packed.append([k, h.label, h.id])
            arrays[f"im2rec/val/{k}"] = img
    meta["im2rec"] = {"lists": lists, "passthrough_sha256": passthrough,
                      "passthrough_idx": passthrough_idx, "val_headers": packed}

    np.savez_compressed(os.path.join(OUT, "goldens.npz"), **arrays)
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()
