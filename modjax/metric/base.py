"""The metric base class, the registry and ``create`` (see :mod:`modjax.metric`)."""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Callable, List, Optional, Sequence

import numpy

from ..base import MXNetError, numeric_types, string_types
from ..registry import ClassRegistry

Names = Optional[List[str]]  # output_names / label_names

__all__ = ["EvalMetric", "CompositeEvalMetric", "create", "register", "alias", "check_label_shapes",
           "MetricShapeError", "MetricValueError"]

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
        try:
            return self.__dict__[key]
        except KeyError:  # a composite keeps no sums of its own (MXNet: AttributeError too)
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'") from None

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
        pending.append(("update", (label, pred)))
        while len(pending) > window:
            self._apply_pending(*pending.pop(0))

    def _defer_stats(self, source: Any) -> None:
        """Note that ``source`` (a Module's on-device running sums of this metric's stats, with
        a ``drain() -> stats or None`` method) holds updates for this metric; they are fetched
        in one transfer at the next read, so the host never waits for the device per batch."""
        self._queue_once("stats", source)

    def _queue_once(self, kind: str, payload: Any) -> None:
        """Queue ``(kind, payload)`` unless it is already the newest entry (a repeat adds nothing:
        draining a source, or flushing a parent, takes everything it holds)."""
        pending = self.__dict__.setdefault("_pending", [])
        if not pending or pending[-1] != (kind, payload):
            pending.append((kind, payload))

    def _apply_pending(self, kind: str, payload: Any) -> None:
        self.__dict__["_flushing"] = True
        try:
            if kind == "stats":
                stats = payload.drain()
                if stats is not None:
                    self._add_stats(stats)
            elif kind == "parent":  # a composite's queue holds this child's updates
                payload._flush_pending()
            else:
                self.update_dict(*payload)
        finally:
            self.__dict__["_flushing"] = False

    def _flush_pending(self) -> None:
        """Apply the queued updates in order."""
        pending = self.__dict__.get("_pending")
        while pending:
            self._apply_pending(*pending.pop(0))

    # -- fused (device-side) updates -------------------------------------------------------------
    def _device_update(self) -> Callable | None:
        """A pure ``(labels: list, preds: list) -> stats`` computing on the device what ``update``
        adds, so a Module can run it inside its train step; None (the default) when the metric
        has none. Only a metric's own class may offer it: a subclass overriding ``update`` must
        not be bypassed."""
        return None

    def _add_stats(self, stats: Any) -> None:
        """Add host copies of ``_device_update``'s stats, exactly as ``update`` would."""
        raise NotImplementedError()

    def _fusion_token(self) -> Any:
        """Changes whenever what ``_fused`` returns could change (cheap; checked every batch)."""
        return id(self)

    def _fused(self) -> tuple[str, Callable] | None:
        """``(key, fn(labels: dict, preds: dict) -> stats)``: ``update_dict`` as a pure function
        (the key names its config, so equal metrics share a compiled step), or None."""
        fn = self._device_update()
        if fn is None:
            return None
        output_names, label_names = self.output_names, self.label_names

        def fused(labels: dict, preds: dict) -> Any:
            pred = list(preds.values()) if output_names is None else [preds[n] for n in output_names]
            label = list(labels.values()) if label_names is None else [labels[n] for n in label_names]
            return fn(label, pred)
        return json.dumps(self.get_config(), sort_keys=True, default=str), fused

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
_REGISTRY = ClassRegistry(EvalMetric, "metric", MetricValueError)


def register(klass: type, name: str | None = None) -> type:
    """Register a metric class under ``name`` (default: its lower-cased class name)."""
    return _REGISTRY.register(klass, name)


def alias(*aliases: str) -> Callable[[type], type]:
    """Class decorator registering the class under extra names."""
    return _REGISTRY.alias(*aliases)


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
        return _custom_metric()(metric, *args, **kwargs)
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

    @staticmethod
    def _select(labels: dict, preds: dict, label_names: Names, output_names: Names) -> tuple:
        """The labels and outputs named (all where the names are None), in their order."""
        if label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in label_names])
        if output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in output_names])
        return labels, preds

    def update_dict(self, labels: dict[str, Any], preds: dict[str, Any]) -> None:
        labels, preds = self._select(labels, preds, self.label_names, self.output_names)
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        for metric in self.metrics:
            metric.update(labels, preds)

    def _defer_update_dict(self, labels: dict[str, Any], preds: dict[str, Any], window: int = 2) -> None:
        labels, preds = self._select(labels, preds, self.label_names, self.output_names)
        for metric in self.metrics:
            metric._defer_update_dict(labels, preds, window)

    def _defer_stats(self, source: Any) -> None:
        super()._defer_stats(source)
        for metric in self.metrics:  # a child read directly flushes this queue first
            metric._queue_once("parent", self)

    def _add_stats(self, stats: Any) -> None:
        for metric, part in zip(self.metrics, stats):
            metric.__dict__["_flushing"] = True
            try:
                metric._add_stats(part)
            finally:
                metric.__dict__["_flushing"] = False

    def _fusion_token(self) -> Any:
        return (id(self), tuple(m._fusion_token() for m in self.metrics))

    def _fused(self) -> tuple[str, Callable] | None:
        children = [m._fused() for m in self.metrics]
        if not children or any(c is None for c in children):
            return None
        label_names, output_names = self.label_names, self.output_names

        def fused(labels: dict, preds: dict) -> Any:
            labels, preds = self._select(labels, preds, label_names, output_names)
            return tuple(fn(labels, preds) for _, fn in children)
        key = json.dumps([label_names, output_names, [k for k, _ in children]], default=str)
        return key, fused

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


def _custom_metric() -> type:
    from .custom import CustomMetric
    return CustomMetric
