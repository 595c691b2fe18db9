"""PythonModule and PythonLossModule: modules written in Python (a loss head with ``grad_func``)."""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import numpy as np

from ..base import MXNetError
from ..ndarray.ndarray import NDArray, array
from .base_module import BaseModule

__all__ = ["PythonModule", "PythonLossModule"]


def _desc_name(desc: Any) -> str:
    return desc.name if hasattr(desc, "name") else desc[0]


class PythonModule(BaseModule):
    """A convenience base for modules whose computation is plain Python; parameters, the
    optimizer and updates are no-ops unless a subclass adds them."""

    def __init__(self, data_names: Sequence[str], label_names: Sequence[str] | None,
                 output_names: Sequence[str], logger: Any = logging):
        super().__init__(logger=logger)
        self._data_names = list(data_names)
        self._label_names = list(label_names) if label_names is not None else None
        self._output_names = list(output_names)
        self._data_shapes: list | None = None
        self._label_shapes: list | None = None
        self._output_shapes: list | None = None

    @property
    def data_names(self) -> list[str]:
        return self._data_names

    @property
    def output_names(self) -> list[str]:
        return self._output_names

    @property
    def data_shapes(self) -> list | None:
        return self._data_shapes

    @property
    def label_shapes(self) -> list | None:
        return self._label_shapes

    @property
    def output_shapes(self) -> list | None:
        return self._output_shapes

    def get_params(self) -> tuple[dict, dict]:
        return {}, {}

    def init_params(self, initializer: Any = None, arg_params: dict | None = None,
                    aux_params: dict | None = None, allow_missing: bool = False,
                    force_init: bool = False, allow_extra: bool = False) -> None:
        self.params_initialized = True

    def update(self) -> None:
        """No parameters, nothing to update."""

    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),), force_init: bool = False) -> None:
        self.optimizer_initialized = True

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        if self._label_shapes is None:
            return
        if pre_sliced:
            raise MXNetError("PythonModule does not support presliced labels")
        eval_metric.update(labels, self.get_outputs())

    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False, shared_module: Any = None,
             grad_req: str = "write") -> None:
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if grad_req != "write":
            raise MXNetError("PythonModule only supports grad_req='write'")
        self.for_training, self.inputs_need_grad = for_training, inputs_need_grad
        names = [_desc_name(d) for d in data_shapes]
        if names != self._data_names:
            raise MXNetError(f"bind: data_shapes names {names} must equal data_names {self._data_names}")
        self._data_shapes = list(data_shapes)
        self._label_shapes = list(label_shapes) if label_shapes is not None else None
        if label_shapes is not None:
            labels = [_desc_name(d) for d in label_shapes]
            if self._label_names is None or labels != self._label_names:
                raise MXNetError(f"bind: label_shapes names {labels} must equal label_names "
                                 f"{self._label_names}")
        self._output_shapes = self._compute_output_shapes()
        self.binded = True

    def _compute_output_shapes(self) -> list:
        """Subclasses give ``[(output name, shape), ...]`` from the bound shapes."""
        raise NotImplementedError()

    def install_monitor(self, mon: Any) -> None:
        raise NotImplementedError()


class PythonLossModule(PythonModule):
    """A loss head in Python: the output is the data; ``backward`` takes the gradient of the
    scores from ``grad_func(scores, labels)`` (an NDArray or anything ``nd.array`` takes)."""

    def __init__(self, name: str = "pyloss", data_names: Sequence[str] = ("data",),
                 label_names: Sequence[str] = ("softmax_label",), logger: Any = logging,
                 grad_func: Callable[[NDArray, NDArray], Any] | None = None):
        super().__init__(data_names, label_names, [name + "_output"], logger=logger)
        self._name = name
        if len(self._data_names) != 1 or len(self._label_names or []) != 1:
            raise MXNetError("PythonLossModule takes exactly one data name and one label name")
        self._scores: NDArray | None = None
        self._labels: NDArray | None = None
        self._scores_grad: NDArray | None = None
        if grad_func is not None and not callable(grad_func):
            raise MXNetError("PythonLossModule: grad_func must be callable")
        self._grad_func = grad_func

    def _compute_output_shapes(self) -> list:
        return [(self._name + "_output", tuple(self._data_shapes[0][1]
                                               if isinstance(self._data_shapes[0], tuple) and
                                               not hasattr(self._data_shapes[0], "name")
                                               else self._data_shapes[0].shape))]

    def forward(self, data_batch: Any, is_train: bool | None = None) -> None:
        self._scores = data_batch.data[0]
        if is_train is None:
            is_train = self.for_training
        if is_train:
            self._labels = data_batch.label[0]

    def get_outputs(self, merge_multi_context: bool = True) -> list:
        if not merge_multi_context:
            raise MXNetError("PythonLossModule.get_outputs needs merge_multi_context=True")
        return [self._scores]

    def backward(self, out_grads: Any = None) -> None:
        if out_grads is not None:
            raise MXNetError("For a loss module, out_grads should be None")
        self._require(training=True, what="backward")
        self._backward_impl()

    def _backward_impl(self) -> None:
        """The gradient of the scores; override it, or give ``grad_func``."""
        if self._grad_func is None:
            raise NotImplementedError("PythonLossModule needs grad_func or an overridden _backward_impl")
        grad = self._grad_func(self._scores, self._labels)
        if not isinstance(grad, NDArray):
            grad = array(np.asarray(grad))
        self._scores_grad = grad

    def get_input_grads(self, merge_multi_context: bool = True) -> list:
        if not merge_multi_context:
            raise MXNetError("PythonLossModule.get_input_grads needs merge_multi_context=True")
        return [self._scores_grad]

    def install_monitor(self, mon: Any) -> None:
        raise NotImplementedError()
