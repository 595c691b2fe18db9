"""Online evaluation metrics (MXNet's ``mx.metric``).

Metrics run on the host with numpy, exactly as MXNet 1.9.1 computes them, including
its quirks: regression metrics average per batch (each ``update`` pair counts once),
F1/MCC ``macro`` average one score per ``update`` call, Perplexity returns
``exp(sum/num)``, and ``get()`` gives ``nan`` before the first update.

Labels and predictions are lists of array-likes: modjax NDArrays (anything with
``.asnumpy()``), jax arrays or numpy arrays.
"""
from __future__ import annotations

import json
import math
import warnings
from collections import OrderedDict
from typing import Any, Callable, List, Optional, Sequence

import numpy

from .base import MXNetError, numeric_types, string_types

__all__ = [
    "EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC", "Perplexity",
    "MAE", "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood", "PearsonCorrelation", "PCC",
    "Loss", "Torch", "Caffe", "CustomMetric", "np", "create", "register", "alias",
    "check_label_shapes", "MetricShapeError", "MetricValueError",
]


Names = Optional[List[str]]  # output_names / label_names


class MetricShapeError(MXNetError, ValueError):
    """Labels and predictions that do not pair up (count or shape)."""


class MetricValueError(MXNetError, ValueError):
    """A metric argument or input that the metric cannot work with."""


def _as_numpy(x: Any) -> numpy.ndarray:
    """A host numpy view of an NDArray, jax array, numpy array or nested list."""
    if hasattr(x, "asnumpy"):
        return x.asnumpy()
    return numpy.asarray(x)


def _nd_sum(x: numpy.ndarray) -> float:
    """``nd.sum(x).asscalar()``: accumulated in double precision, rounded to x's float dtype."""
    if numpy.issubdtype(x.dtype, numpy.floating):
        return float(x.dtype.type(x.sum(dtype=numpy.float64)))
    return x.sum().item()


def _py_number(x: Any) -> Any:
    """numpy scalars as Python numbers, so sums accumulate in double precision (as numpy 1 did)."""
    if isinstance(x, numpy.generic) or (isinstance(x, numpy.ndarray) and x.ndim == 0):
        return x.item()
    return x


def _is_array(x: Any) -> bool:
    return not isinstance(x, (list, tuple)) and hasattr(x, "shape")


def check_label_shapes(labels: Any, preds: Any, wrap: bool = False,
                       shape: bool = False) -> tuple[Any, Any]:
    """Check that labels and preds pair up: their counts (``len``), or with ``shape``, their shapes.

    With ``wrap``, a single array is wrapped into a one-element list (after the check).
    """
    label_shape, pred_shape = ((tuple(labels.shape), tuple(preds.shape)) if shape
                               else (len(labels), len(preds)))
    if label_shape != pred_shape:
        raise MetricShapeError(f"Shape of labels {label_shape} does not match shape of "
                               f"predictions {pred_shape}")
    if wrap:
        labels = [labels] if _is_array(labels) else labels
        preds = [preds] if _is_array(preds) else preds
    return labels, preds


def _flushing_attr(name: str) -> property:
    """An accumulator attribute whose read first applies deferred updates."""
    key = "_" + name

    def fget(self: "EvalMetric") -> Any:
        if self.__dict__.get("_pending") and not self.__dict__.get("_flushing"):
            self._flush_pending()
        return self.__dict__[key]

    def fset(self: "EvalMetric", value: Any) -> None:
        self.__dict__[key] = value

    return property(fget, fset)


_READERS = ("get", "get_global", "get_name_value", "get_global_name_value", "reset",
            "reset_local", "get_config", "__str__", "update", "update_dict")


def _flush_first(fn: Callable) -> Callable:
    def reader(self: "EvalMetric", *args: Any, **kwargs: Any) -> Any:
        if self.__dict__.get("_pending") and not self.__dict__.get("_flushing"):
            self._flush_pending()
        return fn(self, *args, **kwargs)
    reader.__name__, reader.__doc__, reader.__wrapped__ = fn.__name__, fn.__doc__, fn
    return reader


class EvalMetric:
    """Base class of all metrics: local (``num_inst``/``sum_metric``) and global accumulators.

    A Module may *defer* updates (``_defer_update_dict``) so the host does not wait for the
    device every step; every read of a metric (``get``, ``reset``, the accumulators, ...)
    first applies the deferred updates in order, so values are always exact.
    """

    num_inst = _flushing_attr("num_inst")
    sum_metric = _flushing_attr("sum_metric")
    global_num_inst = _flushing_attr("global_num_inst")
    global_sum_metric = _flushing_attr("global_sum_metric")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _READERS:
            fn = cls.__dict__.get(name)
            if fn is not None and not hasattr(fn, "__wrapped__"):
                setattr(cls, name, _flush_first(fn))

    def _defer_update_dict(self, label: dict[str, Any], pred: dict[str, Any], window: int = 2) -> None:
        """Queue an update; only the oldest beyond ``window`` pending ones are applied now."""
        pending = self.__dict__.setdefault("_pending", [])
        pending.append((label, pred))
        while len(pending) > window:
            self._apply_pending(pending.pop(0))

    def _apply_pending(self, item: tuple) -> None:
        self.__dict__["_flushing"] = True
        try:
            self.update_dict(*item)
        finally:
            self.__dict__["_flushing"] = False

    def _flush_pending(self) -> None:
        pending = self.__dict__.get("_pending")
        while pending:
            self._apply_pending(pending.pop(0))

    def __init__(self, name: str, output_names: Names = None,
                 label_names: Names = None, **kwargs: Any):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self) -> str:
        return "EvalMetric: {}".format(dict(self.get_name_value()))

    def get_config(self) -> dict[str, Any]:
        """The constructor config; ``create(**config)`` rebuilds the metric."""
        config = self._kwargs.copy()
        config.update({"metric": self.__class__.__name__, "name": self.name,
                       "output_names": self.output_names, "label_names": self.label_names})
        return config

    def update_dict(self, label: dict[str, Any], pred: dict[str, Any]) -> None:
        """Update from name->array dicts, picking ``output_names``/``label_names`` (all if None)."""
        pred = list(pred.values()) if self.output_names is None else \
            [pred[name] for name in self.output_names]
        label = list(label.values()) if self.label_names is None else \
            [label[name] for name in self.label_names]
        self.update(label, pred)

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        """Accumulate one batch of labels and predictions."""
        raise NotImplementedError()

    def reset(self) -> None:
        """Zero the local and the global accumulators."""
        self.num_inst, self.sum_metric = 0, 0.0
        self.global_num_inst, self.global_sum_metric = 0, 0.0

    def reset_local(self) -> None:
        """Zero the local accumulators only."""
        self.num_inst, self.sum_metric = 0, 0.0

    def get(self) -> tuple[Any, Any]:
        """``(name, sum_metric / num_inst)``, or ``(name, nan)`` before any instance."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_global(self) -> tuple[Any, Any]:
        """Like ``get`` on the global accumulators (``get`` itself without global stats)."""
        if self._has_global_stats:
            if self.global_num_inst == 0:
                return (self.name, float("nan"))
            return (self.name, self.global_sum_metric / self.global_num_inst)
        return self.get()

    @staticmethod
    def _zip_name_value(name: Any, value: Any) -> list[tuple[str, Any]]:
        return list(zip(name if isinstance(name, list) else [name],
                        value if isinstance(value, list) else [value]))

    def get_name_value(self) -> list[tuple[str, Any]]:
        """``get()`` as a list of ``(name, value)`` pairs."""
        return self._zip_name_value(*self.get())

    def get_global_name_value(self) -> list[tuple[str, Any]]:
        """``get_global()`` as a list of ``(name, value)`` pairs."""
        if self._has_global_stats:
            return self._zip_name_value(*self.get_global())
        return self.get_name_value()

    def _add(self, value: Any, count: Any) -> None:
        """Add to the local and global sums and counts."""
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += count
        self.global_num_inst += count


for _name in _READERS:
    if _name in EvalMetric.__dict__:
        setattr(EvalMetric, _name, _flush_first(EvalMetric.__dict__[_name]))


# --- registry ------------------------------------------------------------------------------------
_REGISTRY: dict[str, type] = {}


def register(klass: type, name: str | None = None) -> type:
    """Register a metric class under ``name`` (default: its lower-cased class name)."""
    if not (isinstance(klass, type) and issubclass(klass, EvalMetric)):
        raise MetricValueError(f"Can only register subclass of EvalMetric, got {klass!r}")
    name = (klass.__name__ if name is None else name).lower()
    if name in _REGISTRY:
        old = _REGISTRY[name]
        warnings.warn(f"New metric {klass.__module__}.{klass.__name__} registered with name {name} "
                      f"is overriding existing metric {old.__module__}.{old.__name__}",
                      UserWarning, stacklevel=2)
    _REGISTRY[name] = klass
    return klass


def alias(*aliases: str) -> Callable[[type], type]:
    """Class decorator registering the class under extra names."""
    def reg(klass: type) -> type:
        for name in aliases:
            register(klass, name)
        return klass
    return reg


def _create_registered(metric: Any, *args: Any, **kwargs: Any) -> EvalMetric:
    if isinstance(metric, EvalMetric):
        if args or kwargs:
            raise MetricValueError("metric is already an instance. Additional arguments are invalid")
        return metric
    if isinstance(metric, dict):
        return create(**metric)
    if not isinstance(metric, string_types):
        raise MetricValueError(f"metric must be a name, an EvalMetric, a callable, a list or a "
                               f"config dict, got {type(metric).__name__}")
    if metric.startswith("["):
        if args or kwargs:
            raise MetricValueError("a JSON metric spec takes no extra arguments")
        name, kw = json.loads(metric)
        return create(name, **kw)
    if metric.startswith("{"):
        if args or kwargs:
            raise MetricValueError("a JSON metric spec takes no extra arguments")
        return create(**json.loads(metric))
    name = metric.lower()
    if name not in _REGISTRY:
        raise MXNetError(f"metric '{name}' is not registered. Please register with metric.register "
                         f"first. Known metrics: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](*args, **kwargs)


def create(metric: Any, *args: Any, **kwargs: Any) -> EvalMetric:
    """A metric from a registered name/alias (case-insensitive), an EvalMetric instance or
    subclass, a callable ``feval(label, pred)``, a list (-> CompositeEvalMetric), a config dict
    or a JSON string."""
    if isinstance(metric, type) and issubclass(metric, EvalMetric):
        return metric(*args, **kwargs)
    if callable(metric) and not isinstance(metric, EvalMetric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create_registered(metric, *args, **kwargs)


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns ``([names], [values])``."""

    def __init__(self, metrics: list[Any] | None = None, name: str = "composite",
                 output_names: Names = None, label_names: Names = None):
        self.metrics: list[EvalMetric] = []
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(i) for i in (metrics or [])]

    def add(self, metric: Any) -> None:
        """Add a child metric (anything ``create`` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index: int) -> Any:
        """The child at ``index``; like MXNet, a bad index *returns* (not raises) an error."""
        try:
            return self.metrics[index]
        except IndexError:
            return MetricValueError(f"Metric index {index} is out of range 0 and "
                                    f"{len(self.metrics)}")

    def update_dict(self, labels: dict[str, Any], preds: dict[str, Any]) -> None:
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        for metric in self.metrics:
            metric.update(labels, preds)

    def _defer_update_dict(self, labels: dict[str, Any], preds: dict[str, Any], window: int = 2) -> None:
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric._defer_update_dict(labels, preds, window)

    def reset(self) -> None:
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def reset_local(self) -> None:
        for metric in getattr(self, "metrics", []):
            metric.reset_local()

    def _collect(self, getter: str) -> tuple[list[str], list[Any]]:
        names: list[str] = []
        values: list[Any] = []
        for metric in self.metrics:
            name, value = getattr(metric, getter)()
            if isinstance(name, string_types):
                name = [name]
            if isinstance(value, numeric_types):
                value = [value]
            names.extend(name)
            values.extend(value)
        return (names, values)

    def get(self) -> tuple[list[str], list[Any]]:
        return self._collect("get")

    def get_global(self) -> tuple[list[str], list[Any]]:
        return self._collect("get_global")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"metrics": [i.get_config() for i in self.metrics]})
        return config


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


@register
class Loss(EvalMetric):
    """Mean of the outputs themselves (labels ignored); a single array is accepted too."""

    def __init__(self, name: str = "loss", output_names: Names = None, label_names: Names = None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, _: Any, preds: Any) -> None:
        if _is_array(preds):
            preds = [preds]
        for pred in preds:
            pred = _as_numpy(pred)
            self._add(_nd_sum(pred), pred.size)


@register
class Torch(Loss):
    """Dummy metric for torch criterions."""

    def __init__(self, name: str = "torch", output_names: Names = None, label_names: Names = None):
        super().__init__(name, output_names=output_names, label_names=label_names)


@register
class Caffe(Loss):
    """Dummy metric for caffe criterions."""

    def __init__(self, name: str = "caffe", output_names: Names = None, label_names: Names = None):
        super().__init__(name, output_names=output_names, label_names=label_names)


@register
class CustomMetric(EvalMetric):
    """A metric from ``feval(label, pred)`` on numpy arrays, returning a value or ``(sum, count)``."""

    def __init__(self, feval: Callable[[Any, Any], Any], name: str | None = None,
                 allow_extra_outputs: bool = False, output_names: Names = None,
                 label_names: Names = None):
        if name is None:
            name = feval.__name__
            if name.find("<") != -1:
                name = "custom(%s)" % name
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        if not self._allow_extra_outputs:
            labels, preds = check_label_shapes(labels, preds, True)
        for pred, label in zip(preds, labels):
            reval = self._feval(_as_numpy(label), _as_numpy(pred))
            if isinstance(reval, tuple):
                sum_metric, num_inst = reval
                self._add(_py_number(sum_metric), _py_number(num_inst))
            else:
                self._add(_py_number(reval), 1)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(numpy_feval: Callable[[Any, Any], Any], name: str | None = None,
       allow_extra_outputs: bool = False) -> CustomMetric:
    """A CustomMetric over a numpy function ``(label, pred) -> float``, named after it."""
    def feval(label: Any, pred: Any) -> Any:
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
