"""Classification metrics: Accuracy, TopKAccuracy, F1, MCC, Perplexity."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy

from .base import (EvalMetric, MetricShapeError, MetricValueError, Names, _as_numpy, _nd_sum, alias,
                   check_label_shapes, register)

# --- classification --------------------------------------------------------------------------------
@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of correct predictions (argmax over ``axis`` when pred and label shapes differ)."""

    def __init__(self, axis: int = 1, name: str = "accuracy",
                 output_names: Names = None, label_names: Names = None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.axis = axis

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _as_numpy(label), _as_numpy(pred)
            if pred.shape != label.shape:
                pred = numpy.argmax(pred, axis=self.axis)
            pred = pred.astype("int32").ravel()
            label = label.astype("int32").ravel()
            check_label_shapes(label, pred)
            self._add(int((pred == label).sum()), len(pred))

    def _device_update(self) -> Any:
        if type(self) is not Accuracy:
            return None
        import jax.numpy as jnp
        axis = self.axis

        def stats(labels: list, preds: list) -> list:
            labels, preds = check_label_shapes(labels, preds, True)
            out = []
            for label, pred in zip(labels, preds):
                if pred.shape != label.shape:
                    pred = jnp.argmax(pred, axis=axis)
                pred = pred.astype(jnp.int32).ravel()
                label = label.astype(jnp.int32).ravel()
                check_label_shapes(label, pred)
                out.append((jnp.sum(pred == label, dtype=jnp.int32), jnp.int32(pred.shape[0])))
            return out
        return stats

    def _add_stats(self, stats: list) -> None:
        for correct, count in stats:
            self._add(int(correct), int(count))


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest predictions."""

    def __init__(self, top_k: int = 1, name: str = "top_k_accuracy",
                 output_names: Names = None, label_names: Names = None):
        super().__init__(name, top_k=top_k, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.top_k = top_k
        if not self.top_k > 1:
            raise MetricValueError("Please use Accuracy if top_k is no more than 1")
        self.name += "_%d" % self.top_k

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            pred = _as_numpy(pred)
            if pred.ndim > 2:
                raise MetricShapeError(f"Predictions should be no more than 2 dims, got shape "
                                       f"{pred.shape}")
            pred = numpy.argpartition(pred.astype("float32"), -self.top_k)
            label = _as_numpy(label).astype("int32")
            check_label_shapes(label, pred)
            num_samples = pred.shape[0]
            if pred.ndim == 1:  # MXNet quirk: 1-D predictions only reach the local sum
                self.sum_metric += int((pred.ravel() == label.ravel()).sum())
            else:
                num_classes = pred.shape[1]
                for j in range(min(num_classes, self.top_k)):
                    correct = int((pred[:, num_classes - 1 - j].ravel() == label.ravel()).sum())
                    self.sum_metric += correct
                    self.global_sum_metric += correct
            self.num_inst += num_samples
            self.global_num_inst += num_samples


class _BinaryStats:
    """Confusion counts ``[tp, fn, fp, tn]``, local and global, for binary F1 and MCC."""

    def __init__(self) -> None:
        self.reset_stats()

    def update_binary_stats(self, label: Any, pred: Any, owner: str) -> None:
        pred = _as_numpy(pred)
        label = _as_numpy(label).astype("int32")
        pred_label = numpy.argmax(pred, axis=1)
        check_label_shapes(label, pred)
        if len(numpy.unique(label)) > 2:
            raise MetricValueError(f"{owner} currently only supports binary classification.")
        # (N, 1) labels broadcast against (N,) predictions here, exactly as in MXNet
        pred_true, label_true = pred_label == 1, label == 1
        pred_false, label_false = 1 - pred_true, 1 - label_true
        counts = [int((p * q).sum()) for p, q in ((pred_true, label_true), (pred_false, label_true),
                                                   (pred_true, label_false),
                                                   (pred_false, label_false))]
        self.local = [a + c for a, c in zip(self.local, counts)]
        self.glob = [a + c for a, c in zip(self.glob, counts)]

    def fscore(self, use_global: bool = False) -> float:
        tp, fn, fp, _ = self.glob if use_global else self.local
        precision = float(tp) / (tp + fp) if tp + fp > 0 else 0.
        recall = float(tp) / (tp + fn) if tp + fn > 0 else 0.
        return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.

    def total_examples(self, use_global: bool = False) -> int:
        return sum(self.glob if use_global else self.local)

    def matthewscc(self, use_global: bool = False) -> float:
        """Matthews correlation; zero factors of the denominator count as 1."""
        if not self.total_examples(use_global):
            return 0.
        tp, fn, fp, tn = (float(v) for v in (self.glob if use_global else self.local))
        denom = 1.
        for t in (tp + fp, tp + fn, tn + fp, tn + fn):
            denom *= t if t != 0. else 1.
        return ((tp * tn) - (fp * fn)) / math.sqrt(denom)

    def local_reset_stats(self) -> None:
        self.local = [0, 0, 0, 0]

    def reset_stats(self) -> None:
        self.local, self.glob = [0, 0, 0, 0], [0, 0, 0, 0]


class _BinaryMetric(EvalMetric):
    """Shared update logic of F1 and MCC (``macro``: one score per update call)."""

    def __init__(self, name: str, output_names: Names, label_names: Names, average: str):
        self.average = average
        self._stats = _BinaryStats()
        EvalMetric.__init__(self, name=name, output_names=output_names, label_names=label_names,
                            has_global_stats=True)

    def _score(self, use_global: bool) -> float:
        raise NotImplementedError()

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            self._stats.update_binary_stats(label, pred, type(self).__name__)
        if self.average == "macro":
            self.sum_metric += self._score(False)
            self.global_sum_metric += self._score(True)
            self.num_inst += 1
            self.global_num_inst += 1
            self._stats.reset_stats()
        else:
            self.sum_metric = self._score(False) * self._stats.total_examples()
            self.global_sum_metric = self._score(True) * self._stats.total_examples(True)
            self.num_inst = self._stats.total_examples()
            self.global_num_inst = self._stats.total_examples(True)

    def reset(self) -> None:
        super().reset()
        self._stats.reset_stats()

    def reset_local(self) -> None:
        super().reset_local()
        self._stats.local_reset_stats()


@register
class F1(_BinaryMetric):
    """Binary F1 score (label 1 is positive, prediction = argmax over axis 1)."""

    def __init__(self, name: str = "f1", output_names: Names = None,
                 label_names: Names = None, average: str = "macro"):
        super().__init__(name, output_names, label_names, average)

    def _score(self, use_global: bool) -> float:
        return self._stats.fscore(use_global)


@register
class MCC(_BinaryMetric):
    """Binary Matthews correlation coefficient."""

    def __init__(self, name: str = "mcc", output_names: Names = None,
                 label_names: Names = None, average: str = "macro"):
        super().__init__(name, output_names, label_names, average)

    def _score(self, use_global: bool) -> float:
        return self._stats.matthewscc(use_global)


@register
class Perplexity(EvalMetric):
    """``exp(-mean(log p[label]))`` over the non-ignored labels (probabilities floored at 1e-10)."""

    def __init__(self, ignore_label: int | None, axis: int = -1, name: str = "perplexity",
                 output_names: Names = None, label_names: Names = None):
        super().__init__(name, ignore_label=ignore_label, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        if len(labels) != len(preds):
            raise MetricShapeError(f"Shape of labels {len(labels)} does not match shape of "
                                   f"predictions {len(preds)}")
        loss, num = 0., 0
        for label, pred in zip(labels, preds):
            label, pred = _as_numpy(label), _as_numpy(pred)
            if label.size != pred.size / pred.shape[-1]:
                raise MetricShapeError(f"shape mismatch: {label.shape} vs. {pred.shape}")
            axis = self.axis % pred.ndim
            rest = pred.shape[:axis] + pred.shape[axis + 1:]
            label = label.reshape(rest)
            # nd.pick with its default mode='clip'
            index = numpy.clip(label.astype("int32"), 0, pred.shape[axis] - 1)
            prob = numpy.take_along_axis(pred, numpy.expand_dims(index, axis), axis)
            prob = prob.squeeze(axis)
            if self.ignore_label is not None:
                ignore = (label == self.ignore_label).astype(prob.dtype)
                num -= _nd_sum(ignore)
                prob = prob * (1 - ignore) + ignore
            floor = numpy.asarray(1e-10, dtype=prob.dtype)
            loss -= _nd_sum(numpy.log(numpy.maximum(floor, prob)))
            num += prob.size
        self._add(loss, num)

    def get(self) -> tuple[str, float]:
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self) -> tuple[str, float]:
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))
