"""Sentence encoding and the bucketing iterator of ``mx.rnn`` (MXNet 1.9.1 semantics), plus an
automatic choice of bucket boundaries that minimises padding (a modjax extension)."""
from __future__ import annotations

import bisect
import random
from typing import Any, Sequence

import numpy as np

from ..base import MXNetError
from ..io import DataBatch, DataDesc, DataIter
from ..ndarray.ndarray import array as nd_array

__all__ = ["encode_sentences", "BucketSentenceIter", "choose_buckets"]


def encode_sentences(sentences: Sequence[Sequence[str]], vocab: dict | None = None,
                     invalid_label: int = -1, invalid_key: str = "\n", start_label: int = 0,
                     unknown_token: str | None = None) -> tuple[list[list[int]], dict]:
    """Map token lists to id lists, growing ``vocab`` (a new one starts as ``{invalid_key:
    invalid_label}``). New ids count from ``start_label``, skipping ``invalid_label``. With a
    given vocab an unknown token is an error unless ``unknown_token`` is set; as in MXNet, the
    unknown token then takes the next counter value each time one is met."""
    idx = start_label
    if vocab is None:
        vocab = {invalid_key: invalid_label}
        new_vocab = True
    else:
        new_vocab = False
    res = []
    for sent in sentences:
        coded = []
        for word in sent:
            if word not in vocab:
                if not (new_vocab or unknown_token):
                    raise AssertionError("Unknown token %s" % word)
                if idx == invalid_label:
                    idx += 1
                if unknown_token:
                    word = unknown_token
                vocab[word] = idx
                idx += 1
            coded.append(vocab[word])
        res.append(coded)
    return res, vocab


def choose_buckets(lengths: Sequence[int], num_buckets: int, min_count: int = 1
                   ) -> tuple[list[int], float]:
    """At most ``num_buckets`` bucket lengths that minimise the padded tokens of ``lengths``
    (each sentence goes to the smallest bucket that holds it; the largest bucket is the longest
    sentence, so nothing is discarded). Buckets hold at least ``min_count`` sentences when that
    is possible. Exact dynamic programming over the distinct lengths, O(K·m²).
    Returns (sorted buckets, padding fraction = padded slots / all slots)."""
    if num_buckets < 1:
        raise MXNetError(f"choose_buckets: num_buckets must be >= 1, got {num_buckets}")
    lens = np.asarray([int(n) for n in lengths], dtype=np.int64)
    if lens.size == 0:
        raise MXNetError("choose_buckets: no sentences")
    values, counts = np.unique(lens, return_counts=True)
    m = len(values)
    csum = np.concatenate([[0], np.cumsum(counts)])
    ssum = np.concatenate([[0], np.cumsum(values * counts)])

    def solve(min_c: int) -> list[int] | None:
        inf = np.iinfo(np.int64).max // 4
        k_max = min(num_buckets, m)
        # best[k][j]: least padding for the first j distinct lengths in k buckets, the last
        # bucket ending at values[j-1]
        best = np.full((k_max + 1, m + 1), inf, dtype=np.int64)
        back = np.zeros((k_max + 1, m + 1), dtype=np.int64)
        best[0][0] = 0
        for k in range(1, k_max + 1):
            for j in range(1, m + 1):
                i = np.arange(0, j)
                n_in = csum[j] - csum[i]
                cost = values[j - 1] * n_in - (ssum[j] - ssum[i])
                total = np.where((best[k - 1][i] < inf) & (n_in >= min_c), best[k - 1][i] + cost,
                                 inf)
                arg = int(np.argmin(total))
                best[k][j], back[k][j] = total[arg], arg
        k_best = int(np.argmin(best[1:, m])) + 1
        if best[k_best][m] >= inf:
            return None
        out, j, k = [], m, k_best
        while j > 0:
            out.append(int(values[j - 1]))
            j, k = int(back[k][j]), k - 1
        return sorted(out)

    buckets = solve(max(1, min_count)) or solve(1)
    assert buckets is not None
    return buckets, padding_fraction(lens, buckets)


def padding_fraction(lengths: Sequence[int], buckets: Sequence[int]) -> float:
    """Padded slots / all slots when each length goes to the smallest bucket that holds it
    (lengths longer than every bucket are left out)."""
    buckets = sorted(buckets)
    pad = total = 0
    for n in lengths:
        b = bisect.bisect_left(buckets, n)
        if b < len(buckets):
            pad += buckets[b] - n
            total += buckets[b]
    return float(pad) / total if total else 0.0


class BucketSentenceIter(DataIter):
    """Batches of equal-length (padded) sentences, one bucket length per batch, for a language
    model: labels are the data shifted left by one step, ending with ``invalid_label``.

    Data and label are (batch_size, bucket) for layout 'NT' or (bucket, batch_size) for 'TN';
    each batch carries ``bucket_key``, ``provide_data`` and ``provide_label``. ``buckets=None``
    makes every length with at least batch_size sentences a bucket (MXNet), unless
    ``num_buckets`` is given (modjax extension): then :func:`choose_buckets` picks that many
    boundaries minimising padding. ``padding_fraction`` reports the padding of the buckets used.
    """

    def __init__(self, sentences: Sequence[Sequence[int]], batch_size: int,
                 buckets: Sequence[int] | None = None, invalid_label: int = -1,
                 data_name: str = "data", label_name: str = "softmax_label",
                 dtype: Any = "float32", layout: str = "NT", num_buckets: int | None = None):
        super().__init__()
        lengths = [len(s) for s in sentences]
        if not buckets:
            if num_buckets is not None:
                buckets, _ = choose_buckets(lengths, num_buckets, min_count=batch_size)
            else:
                buckets = [i for i, j in enumerate(np.bincount(lengths)) if j >= batch_size]
        buckets = sorted(buckets)
        if not buckets:
            raise MXNetError(f"BucketSentenceIter: no bucket: no sentence length occurs at least "
                             f"batch_size={batch_size} times; pass buckets or num_buckets")
        ndiscard = 0
        data: list[list[np.ndarray]] = [[] for _ in buckets]
        used = [False] * len(buckets)
        for sent in sentences:
            buck = bisect.bisect_left(buckets, len(sent))
            if buck == len(buckets):
                ndiscard += 1
                continue
            used[buck] = True
            buff = np.full((buckets[buck],), invalid_label, dtype=dtype)
            buff[:len(sent)] = sent
            data[buck].append(buff)
        buckets = [b for b, u in zip(buckets, used) if u]
        self.data = [np.asarray(d, dtype=dtype) for d in data if d]
        print("WARNING: discarded %d sentences longer than the largest bucket." % ndiscard)
        if not buckets:
            raise MXNetError("BucketSentenceIter: every sentence is longer than the largest bucket")

        self.batch_size = batch_size
        self.buckets = buckets
        self.data_name = data_name
        self.label_name = label_name
        self.dtype = dtype
        self.invalid_label = invalid_label
        self.nddata: list = []
        self.ndlabel: list = []
        self.major_axis = layout.find("N")
        self.layout = layout
        self.default_bucket_key = max(buckets)
        self.padding_fraction = padding_fraction(lengths, buckets)
        if self.major_axis == 0:
            shape = (batch_size, self.default_bucket_key)
        elif self.major_axis == 1:
            shape = (self.default_bucket_key, batch_size)
        else:
            raise ValueError("Invalid layout %s: Must by NT (batch major) or TN (time major)"
                             % layout)
        self.provide_data = [DataDesc(name=data_name, shape=shape, layout=layout)]
        self.provide_label = [DataDesc(name=label_name, shape=shape, layout=layout)]
        self.idx: list[tuple[int, int]] = []
        for i, buck in enumerate(self.data):
            self.idx.extend([(i, j) for j in range(0, len(buck) - batch_size + 1, batch_size)])
        self.curr_idx = 0
        self.reset()

    def reset(self) -> None:
        """Shuffle the batch order (``random.shuffle``) and each bucket's rows
        (``np.random.shuffle``), as MXNet does, and rebuild the labels."""
        self.curr_idx = 0
        random.shuffle(self.idx)
        for buck in self.data:
            np.random.shuffle(buck)
        self.nddata = []
        self.ndlabel = []
        for buck in self.data:
            label = np.empty_like(buck)
            label[:, :-1] = buck[:, 1:]
            label[:, -1] = self.invalid_label
            self.nddata.append(buck)
            self.ndlabel.append(label)

    def next(self) -> DataBatch:
        """The next batch; StopIteration after the last full batch of every bucket."""
        if self.curr_idx == len(self.idx):
            raise StopIteration
        i, j = self.idx[self.curr_idx]
        self.curr_idx += 1
        data = self.nddata[i][j:j + self.batch_size]
        label = self.ndlabel[i][j:j + self.batch_size]
        if self.major_axis == 1:
            data, label = data.T, label.T
        data = nd_array(np.ascontiguousarray(data), dtype=self.dtype)
        label = nd_array(np.ascontiguousarray(label), dtype=self.dtype)
        return DataBatch([data], [label], pad=0, bucket_key=self.buckets[i],
                         provide_data=[DataDesc(name=self.data_name, shape=data.shape,
                                                layout=self.layout)],
                         provide_label=[DataDesc(name=self.label_name, shape=label.shape,
                                                 layout=self.layout)])
