"""mx.rnn.encode_sentences and BucketSentenceIter against MXNet 1.9.1 goldens, and the
automatic bucket choice (modjax's ``num_buckets`` extension) against brute force."""
import itertools
import json
import os
import random
import sys

import numpy as np
import pytest

import modjax as mx
from modjax.rnn.io import choose_buckets, padding_fraction

HERE = os.path.dirname(os.path.abspath(__file__))
GOLD = os.path.join(HERE, "golden", "rnn")
sys.path.insert(0, os.path.join(HERE, "golden"))
import rnn_cases as rc  # noqa: E402

with open(os.path.join(GOLD, "iter.json")) as _f:
    ITERS = json.load(_f)
with open(os.path.join(GOLD, "encode.json")) as _f:
    ENCODE = json.load(_f)
ARRAYS = np.load(os.path.join(GOLD, "iter.npz"))


def _descs(descs):
    return [[d.name, list(d.shape), d.layout] for d in descs]


@pytest.mark.parametrize("name", sorted(ITERS))
def test_bucket_sentence_iter_matches_mxnet(name, capsys):
    rec = ITERS[name]
    kw = dict(rc.ITER_CASES[name])
    if "buckets" in kw:
        kw["buckets"] = list(kw["buckets"])
    random.seed(5)
    np.random.seed(5)
    it = mx.rnn.BucketSentenceIter(rc.corpus(), **kw)
    assert capsys.readouterr().out == rec["printed"]
    assert it.buckets == rec["buckets"]
    assert it.default_bucket_key == rec["default_bucket_key"]
    assert _descs(it.provide_data) == rec["provide_data"]
    assert _descs(it.provide_label) == rec["provide_label"]
    for epoch, batches in enumerate(rec["epochs"]):
        if epoch:
            it.reset()
        got = list(it)
        assert len(got) == len(batches)
        for b, (batch, want) in enumerate(zip(got, batches)):
            key = "%s/%d/%d" % (name, epoch, b)
            assert batch.bucket_key == want["bucket_key"] and batch.pad == want["pad"]
            assert _descs(batch.provide_data) == want["provide_data"]
            assert _descs(batch.provide_label) == want["provide_label"]
            assert np.dtype(batch.data[0].dtype) == np.dtype(want["dtype"])
            np.testing.assert_array_equal(batch.data[0].asnumpy(), ARRAYS[key + "/data"])
            np.testing.assert_array_equal(batch.label[0].asnumpy(), ARRAYS[key + "/label"])


@pytest.mark.parametrize("name", sorted(rc.ENCODE_CASES))
def test_encode_sentences_matches_mxnet(name):
    kw = dict(rc.ENCODE_CASES[name])
    if "vocab" in kw:
        kw["vocab"] = dict(kw["vocab"])
    res, vocab = mx.rnn.encode_sentences(**kw)
    assert res == ENCODE[name]["result"]
    assert vocab == ENCODE[name]["vocab"]


def test_encode_sentences_unknown_token_error():
    with pytest.raises(AssertionError) as err:
        mx.rnn.encode_sentences([["a", "zz"]], vocab={"a": 1})
    assert str(err.value) == ENCODE["unknown_error"]


def test_invalid_layout_and_no_bucket():
    with pytest.raises(ValueError, match="Invalid layout"):
        mx.rnn.BucketSentenceIter([[1, 2]] * 4, 2, layout="TC")
    with pytest.raises(mx.MXNetError, match="no bucket"):
        mx.rnn.BucketSentenceIter([[1], [1, 2], [1, 2, 3]], 2)


# -- automatic buckets ---------------------------------------------------------------------------
def _brute(lengths, k, min_count):
    values = sorted(set(lengths))
    best = None
    for r in range(1, k + 1):
        for combo in itertools.combinations(values[:-1], r - 1):
            bk = sorted(combo) + [values[-1]]
            counts = [0] * len(bk)
            pad = 0
            for n in lengths:
                j = next(i for i, b in enumerate(bk) if b >= n)
                counts[j] += 1
                pad += bk[j] - n
            if min(counts) < min_count:
                continue
            if best is None or pad < best[0]:
                best = (pad, bk)
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_choose_buckets_is_optimal(seed, k):
    rng = np.random.RandomState(seed)
    lengths = list(rng.randint(1, 12, size=25))
    min_count = 3 if seed % 2 else 1
    buckets, frac = choose_buckets(lengths, k, min_count=min_count)
    pad, _ = _brute(lengths, k, min_count)
    got_pad = sum(next(b for b in buckets if b >= n) - n for n in lengths)
    assert got_pad == pad
    assert len(buckets) <= k and buckets[-1] == max(lengths)
    assert frac == pytest.approx(pad / sum(next(b for b in buckets if b >= n) for n in lengths))


def test_num_buckets_in_iterator(capsys):
    sents = rc.corpus(n=200, max_len=30)
    it = mx.rnn.BucketSentenceIter(sents, 8, num_buckets=4)
    assert len(it.buckets) <= 4 and it.buckets[-1] == max(len(s) for s in sents)
    lengths = [len(s) for s in sents]
    assert it.padding_fraction == pytest.approx(padding_fraction(lengths, it.buckets))
    # better than evenly spaced boundaries
    assert it.padding_fraction <= padding_fraction(lengths, [8, 15, 23, 30]) + 1e-12
    assert capsys.readouterr().out == "WARNING: discarded 0 sentences longer than the largest " \
                                      "bucket.\n"
    for batch in it:
        assert batch.data[0].shape == (8, batch.bucket_key)
    # more buckets, less padding
    fr = [mx.rnn.BucketSentenceIter(sents, 8, num_buckets=k).padding_fraction for k in (1, 3, 6)]
    assert fr[0] > fr[1] > fr[2]
