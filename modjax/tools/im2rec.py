"""Build image lists (``.lst``) and RecordIO datasets (``.rec`` + ``.idx``) from a folder of images.

The command line of MXNet's ``tools/im2rec.py``::

    python -m modjax.tools.im2rec --list [--recursive] [--train-ratio R] [--test-ratio T]
                                  [--chunks N] [--no-shuffle] [--exts .jpg .png] PREFIX ROOT
    python -m modjax.tools.im2rec [--resize S] [--center-crop] [--quality Q] [--encoding .jpg]
                                  [--color 1] [--pass-through] [--pack-label]
                                  [--num-thread N] PREFIX ROOT

List mode walks ROOT (sorted; with ``--recursive`` each sub-folder is a class, labelled in
walk order) and writes ``PREFIX.lst`` (or ``_train``/``_val``/``_test`` splits and ``_<chunk>``
parts) as ``index<TAB>label<TAB>relative path`` lines, shuffled with Python's
``random.seed(100)`` exactly as MXNet does, so the lists are identical. Pack mode reads every
``PREFIX*.lst`` and writes ``.rec``/``.idx`` next to it: images are decoded, optionally
center-cropped to a square and resized (shorter edge, bilinear), and re-encoded with Pillow
(``--pass-through`` stores the file bytes as they are). Images that cannot be read are reported
and skipped. ``--num-thread`` encodes in threads; records are always written in list order.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import numpy as np

__all__ = ["list_image", "write_list", "make_list", "read_list", "image_encode", "main"]


def list_image(root: str, recursive: bool, exts: Sequence[str]) -> Iterator[tuple]:
    """Yield ``(index, relative path, label)`` for the images under ``root``."""
    i = 0
    if recursive:
        cat: dict[str, int] = {}
        for path, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            files.sort()
            for fname in files:
                fpath = os.path.join(path, fname)
                suffix = os.path.splitext(fname)[1].lower()
                if os.path.isfile(fpath) and (suffix in exts):
                    if path not in cat:
                        cat[path] = len(cat)
                    yield (i, os.path.relpath(fpath, root), cat[path])
                    i += 1
        for k, v in sorted(cat.items(), key=lambda x: x[1]):
            print(os.path.relpath(k, root), v)
    else:
        for fname in sorted(os.listdir(root)):
            fpath = os.path.join(root, fname)
            suffix = os.path.splitext(fname)[1].lower()
            if os.path.isfile(fpath) and (suffix in exts):
                yield (i, os.path.relpath(fpath, root), 0)
                i += 1


def write_list(path_out: str, image_list: Sequence[Sequence]) -> None:
    """Write ``index<TAB>label(s)<TAB>path`` lines."""
    with open(path_out, "w") as fout:
        for item in image_list:
            line = "%d\t" % item[0]
            for j in item[2:]:
                line += "%f\t" % j
            line += "%s\n" % item[1]
            fout.write(line)


def make_list(args: Any) -> None:
    """List mode: write the ``.lst`` file(s) for ``args.root``."""
    image_list = list(list_image(args.root, args.recursive, args.exts))
    if args.shuffle is True:
        random.seed(100)
        random.shuffle(image_list)
    n = len(image_list)
    chunk_size = (n + args.chunks - 1) // args.chunks
    for i in range(args.chunks):
        chunk = image_list[i * chunk_size:(i + 1) * chunk_size]
        str_chunk = "_%d" % i if args.chunks > 1 else ""
        sep = int(chunk_size * args.train_ratio)
        sep_test = int(chunk_size * args.test_ratio)
        if args.train_ratio == 1.0:
            write_list(args.prefix + str_chunk + ".lst", chunk)
        else:
            if args.test_ratio:
                write_list(args.prefix + str_chunk + "_test.lst", chunk[:sep_test])
            if args.train_ratio + args.test_ratio < 1.0:
                write_list(args.prefix + str_chunk + "_val.lst", chunk[sep_test + sep:])
            write_list(args.prefix + str_chunk + "_train.lst", chunk[sep_test:sep_test + sep])


def read_list(path_in: str) -> Iterator[list]:
    """Yield ``[index, path, label, ...]`` from a ``.lst`` file, skipping malformed lines."""
    with open(path_in) as fin:
        for line in fin:
            fields = [i.strip() for i in line.strip().split("\t")]
            if len(fields) < 3:
                print("lst should have at least has three parts, but only has %s parts for %s"
                      % (len(fields), fields))
                continue
            try:
                item = [int(fields[0])] + [fields[-1]] + [float(i) for i in fields[1:-1]]
            except ValueError as err:
                print("Parsing lst met error for %s, detail: %s" % (fields, err))
                continue
            yield item


def image_encode(args: Any, item: Sequence) -> bytes | None:
    """One packed record for ``item`` (``None`` when the image cannot be read or encoded)."""
    from .. import recordio
    from ..image._backend import decode_numpy, resize_numpy
    fullpath = os.path.join(args.root, item[1])
    if len(item) > 3 and args.pack_label:
        header = recordio.IRHeader(0, item[2:], item[0], 0)
    else:
        header = recordio.IRHeader(0, item[2], item[0], 0)
    try:
        with open(fullpath, "rb") as fin:
            raw = fin.read()
    except OSError as err:
        print("imread error trying to load file: %s (%s)" % (fullpath, err))
        return None
    if args.pass_through:
        return recordio.pack(header, raw)
    try:
        img = decode_numpy(raw, flag=args.color, to_rgb=False)  # BGR, as cv2.imread gives
    except Exception as err:  # noqa: BLE001 - report and skip, as MXNet's tool does
        print("imread read blank (None) image for file: %s (%s)" % (fullpath, err))
        return None
    if args.center_crop:
        if img.shape[0] > img.shape[1]:
            margin = (img.shape[0] - img.shape[1]) // 2
            img = img[margin:margin + img.shape[1], :]
        else:
            margin = (img.shape[1] - img.shape[0]) // 2
            img = img[:, margin:margin + img.shape[0]]
    if args.resize:
        if img.shape[0] > img.shape[1]:
            newsize = (args.resize, img.shape[0] * args.resize // img.shape[1])
        else:
            newsize = (img.shape[1] * args.resize // img.shape[0], args.resize)
        img = resize_numpy(np.ascontiguousarray(img), newsize[0], newsize[1], 1)
    try:
        return recordio.pack_img(header, img, quality=args.quality, img_fmt=args.encoding)
    except Exception as err:  # noqa: BLE001
        print("pack_img error on file: %s" % fullpath, err)
        return None


def _pack_list(args: Any, fname: str, working_dir: str) -> int:
    from .. import recordio
    base = os.path.splitext(os.path.basename(fname))[0]
    record = recordio.MXIndexedRecordIO(os.path.join(working_dir, base + ".idx"),
                                        os.path.join(working_dir, base + ".rec"), "w")
    items = list(read_list(fname))
    count, pre_time = 0, time.time()
    try:
        if args.num_thread > 1:
            pool = ThreadPoolExecutor(max_workers=args.num_thread)
            results = pool.map(lambda it: image_encode(args, it), items)
        else:
            pool = None
            results = (image_encode(args, it) for it in items)
        for item, packed in zip(items, results):
            if packed is not None:
                record.write_idx(item[0], packed)
            if count % 1000 == 0:
                cur_time = time.time()
                print("time:", cur_time - pre_time, " count:", count)
                pre_time = cur_time
            count += 1
        if pool is not None:
            pool.shutdown()
    finally:
        record.close()
    return count


def parse_args(argv: Sequence[str] | None = None) -> Any:
    """MXNet im2rec's arguments."""
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Create an image list or make a record database by reading from an image list")
    parser.add_argument("prefix", help="prefix of input/output lst and rec files.")
    parser.add_argument("root", help="path to folder containing images.")
    cgroup = parser.add_argument_group("Options for creating image lists")
    cgroup.add_argument("--list", action="store_true",
                        help="create image list(s) by traversing root folder and output to "
                             "<prefix>.lst; otherwise read <prefix>.lst and create <prefix>.rec")
    cgroup.add_argument("--exts", nargs="+", default=[".jpeg", ".jpg", ".png"],
                        help="list of acceptable image extensions.")
    cgroup.add_argument("--chunks", type=int, default=1, help="number of chunks.")
    cgroup.add_argument("--train-ratio", type=float, default=1.0,
                        help="Ratio of images to use for training.")
    cgroup.add_argument("--test-ratio", type=float, default=0,
                        help="Ratio of images to use for testing.")
    cgroup.add_argument("--recursive", action="store_true",
                        help="walk sub-folders and give each folder's images its own label")
    cgroup.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                        help="keep the image order of the folder walk in <prefix>.lst")
    rgroup = parser.add_argument_group("Options for creating database")
    rgroup.add_argument("--pass-through", action="store_true",
                        help="whether to skip transformation and save image as is")
    rgroup.add_argument("--resize", type=int, default=0,
                        help="resize the shorter edge of image to the newsize")
    rgroup.add_argument("--center-crop", action="store_true",
                        help="crop the center of the image to make it square")
    rgroup.add_argument("--quality", type=int, default=95,
                        help="JPEG quality for encoding, 1-100; or PNG compression, 1-9")
    rgroup.add_argument("--num-thread", type=int, default=1,
                        help="number of threads to use for encoding")
    rgroup.add_argument("--color", type=int, default=1, choices=[-1, 0, 1],
                        help="1: color, 0: grayscale, -1: as stored (keeps alpha)")
    rgroup.add_argument("--encoding", type=str, default=".jpg", choices=[".jpg", ".png"],
                        help="specify the encoding of the images.")
    rgroup.add_argument("--pack-label", action="store_true",
                        help="Whether to also pack multi dimensional label in the record file")
    args = parser.parse_args(argv)
    args.prefix = os.path.abspath(args.prefix)
    args.root = os.path.abspath(args.root)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run im2rec with ``argv`` (the command line when None); returns the exit status."""
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        print("im2rec: image folder %s does not exist" % args.root, file=sys.stderr)
        return 1
    if args.list:
        make_list(args)
        return 0
    working_dir = args.prefix if os.path.isdir(args.prefix) else os.path.dirname(args.prefix)
    files = sorted(os.path.join(working_dir, f) for f in os.listdir(working_dir)
                   if os.path.isfile(os.path.join(working_dir, f)))
    count = 0
    for fname in files:
        if fname.startswith(args.prefix) and fname.endswith(".lst"):
            print("Creating .rec file from", fname, "in", working_dir)
            count += 1
            _pack_list(args, fname, working_dir)
    if not count:
        print("Did not find and list file with prefix %s" % args.prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
