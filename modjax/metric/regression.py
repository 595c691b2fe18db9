"""Regression and likelihood metrics: MAE, MSE, RMSE, CrossEntropy, NLL, Pearson."""
from __future__ import annotations

from typing import Any, Sequence

import numpy

from .base import (EvalMetric, MetricShapeError, Names, _as_numpy, alias, check_label_shapes,
                   register)

# --- regression ------------------------------------------------------------------------------------
class _BatchRegression(EvalMetric):
    """Per-batch regression error; every (label, pred) pair counts as ONE instance (MXNet quirk)."""

    def _batch_error(self, diff: numpy.ndarray) -> Any:
        raise NotImplementedError()

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _as_numpy(label), _as_numpy(pred)
            if label.ndim == 1:
                label = label.reshape(label.shape[0], 1)
            if pred.ndim == 1:
                pred = pred.reshape(pred.shape[0], 1)
            self._add(float(self._batch_error(label - pred)), 1)


@register
class MAE(_BatchRegression):
    """Mean absolute error, averaged over batches."""

    def __init__(self, name: str = "mae", output_names: Names = None, label_names: Names = None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _batch_error(self, diff: numpy.ndarray) -> Any:
        return numpy.abs(diff).mean()


@register
class MSE(_BatchRegression):
    """Mean squared error, averaged over batches."""

    def __init__(self, name: str = "mse", output_names: Names = None, label_names: Names = None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _batch_error(self, diff: numpy.ndarray) -> Any:
        return (diff ** 2.0).mean()


@register
class RMSE(_BatchRegression):
    """Root mean squared error of each batch, averaged over batches."""

    def __init__(self, name: str = "rmse", output_names: Names = None, label_names: Names = None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def _batch_error(self, diff: numpy.ndarray) -> Any:
        return numpy.sqrt((diff ** 2.0).mean())


class _LogLikelihood(EvalMetric):
    """``-sum(log(p[i, label_i] + eps))`` per sample (CrossEntropy and NegativeLogLikelihood)."""

    def __init__(self, eps: float, name: str, output_names: Names, label_names: Names):
        super().__init__(name, eps=eps, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.eps = eps

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _as_numpy(label).ravel(), _as_numpy(pred)
            n = pred.shape[0]
            if label.shape[0] != n:
                raise MetricShapeError(f"{type(self).__name__}: {label.shape[0]} labels for {n} "
                                       "predictions")
            prob = pred[numpy.arange(n, dtype=numpy.int64), numpy.int64(label)]
            self._add(float((-numpy.log(prob + self.eps)).sum()), n)


@register
@alias("ce")
class CrossEntropy(_LogLikelihood):
    """Mean cross entropy of the predicted probability of each label."""

    def __init__(self, eps: float = 1e-12, name: str = "cross-entropy",
                 output_names: Names = None, label_names: Names = None):
        super().__init__(eps, name, output_names, label_names)


@register
@alias("nll_loss")
class NegativeLogLikelihood(_LogLikelihood):
    """Mean negative log-likelihood (same formula as CrossEntropy)."""

    def __init__(self, eps: float = 1e-12, name: str = "nll-loss",
                 output_names: Names = None, label_names: Names = None):
        super().__init__(eps, name, output_names, label_names)


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation; ``macro``: mean of per-batch values, ``micro``: streaming estimate."""

    def __init__(self, name: str = "pearsonr", output_names: Names = None,
                 label_names: Names = None, average: str = "macro"):
        self.average = average
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        if self.average == "micro":
            self.reset_micro()

    def reset_micro(self) -> None:
        """Zero the streaming (micro) accumulators."""
        self._sse_p = self._mean_p = self._sse_l = self._mean_l = 0
        self._pred_nums = self._label_nums = self._conv = 0

    def reset(self) -> None:
        super().reset()
        if self.average == "micro":
            self.reset_micro()

    def update_variance(self, new_values: numpy.ndarray, *aggregate: Any) -> tuple[Any, Any, Any]:
        """Welford's update of ``(count, mean, M2)`` with a batch of values."""
        count, mean, m_2 = aggregate
        count += len(new_values)
        delta = new_values - mean
        mean += numpy.sum(delta / count)
        delta_2 = new_values - mean
        m_2 += numpy.sum(delta * delta_2)
        return count, mean, m_2

    def update_cov(self, label: numpy.ndarray, pred: numpy.ndarray) -> None:
        """Streaming co-moment (label mean already updated, pred mean not yet, as in MXNet)."""
        self._conv = self._conv + numpy.sum((label - self._mean_l) * (pred - self._mean_p))

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            check_label_shapes(label, pred, False, True)
            label = _as_numpy(label).ravel().astype(numpy.float64)
            pred = _as_numpy(pred).ravel().astype(numpy.float64)
            if self.average == "macro":
                self._add(float(numpy.corrcoef(pred, label)[0, 1]), 1)
            else:
                self.global_num_inst += 1
                self.num_inst += 1
                self._label_nums, self._mean_l, self._sse_l = self.update_variance(
                    label, self._label_nums, self._mean_l, self._sse_l)
                self.update_cov(label, pred)
                self._pred_nums, self._mean_p, self._sse_p = self.update_variance(
                    pred, self._pred_nums, self._mean_p, self._sse_p)

    def get(self) -> tuple[str, float]:
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, self.sum_metric / self.num_inst)
        n = self._label_nums
        denom = (n - 1) * numpy.sqrt(self._sse_p / (n - 1)) * numpy.sqrt(self._sse_l / (n - 1))
        return (self.name, float(self._conv / denom))


@register
class PCC(EvalMetric):
    """Multiclass Matthews correlation from a growing confusion matrix (nan when degenerate)."""

    def __init__(self, name: str = "pcc", output_names: Names = None,
                 label_names: Names = None, has_global_stats: bool = True):
        self.k = 2
        super().__init__(name=name, output_names=output_names, label_names=label_names,
                         has_global_stats=has_global_stats)

    def _grow(self, inc: int) -> None:
        self.lcm = numpy.pad(self.lcm, ((0, inc), (0, inc)), "constant", constant_values=0)
        self.gcm = numpy.pad(self.gcm, ((0, inc), (0, inc)), "constant", constant_values=0)
        self.k += inc

    @staticmethod
    def _calc_mcc(cmat: numpy.ndarray) -> float:
        n = cmat.sum()
        x = cmat.sum(axis=1)
        y = cmat.sum(axis=0)
        cov_xx = numpy.sum(x * (n - x))
        cov_yy = numpy.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        cov_xy = numpy.sum(cmat.diagonal() * n - x * y)
        return float(cov_xy / (cov_xx * cov_yy) ** 0.5)

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _as_numpy(label).astype("int32")
            pred = _as_numpy(pred)
            pred = pred.argmax(axis=1) if pred.shape != label.shape else pred.astype("int32")
            n = max(pred.max(), label.max())
            if n >= self.k:
                self._grow(int(n) + 1 - self.k)
            bcm = numpy.zeros((self.k, self.k))
            if pred.ndim == 1 and label.size == pred.size and label.ndim <= 2:
                numpy.add.at(bcm, (pred, label.reshape(pred.shape)), 1)
            else:  # MXNet's per-row fancy-index semantics
                for i, j in zip(pred, label):
                    bcm[i, j] += 1
            self.lcm += bcm
            self.gcm += bcm
        self.num_inst += 1
        self.global_num_inst += 1

    @property
    def sum_metric(self) -> float:
        return self._calc_mcc(self.lcm) * self.num_inst

    @property
    def global_sum_metric(self) -> float:
        return self._calc_mcc(self.gcm) * self.global_num_inst

    def reset(self) -> None:
        self.global_num_inst = 0.
        self.gcm = numpy.zeros((self.k, self.k))
        self.reset_local()

    def reset_local(self) -> None:
        self.num_inst = 0.
        self.lcm = numpy.zeros((self.k, self.k))
