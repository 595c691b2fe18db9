"""SequentialModule: modules chained output to input, with gradients flowing back through them."""
from __future__ import annotations

import copy
import logging
from typing import Any

from ..base import MXNetError
from .base_module import BaseModule

__all__ = ["SequentialModule"]


class SequentialModule(BaseModule):
    """MXNet's SequentialModule: ``add(module, take_labels=..., auto_wiring=...)`` in order."""

    META_TAKE_LABELS = "take_labels"
    META_AUTO_WIRING = "auto_wiring"

    def __init__(self, logger: Any = logging):
        super().__init__(logger=logger)
        self._modules: list[BaseModule] = []
        self._metas: list[dict] = []
        self._label_shapes = None
        self._data_shapes = None
        self._meta_keys = {self.META_TAKE_LABELS, self.META_AUTO_WIRING}

    def add(self, module: BaseModule, **kwargs: Any) -> "SequentialModule":
        """Append a module; ``take_labels`` feeds it the labels, ``auto_wiring`` renames the
        previous outputs to its data names. Returns self, so calls chain."""
        for key in kwargs:
            if key not in self._meta_keys:
                raise MXNetError(f'Unknown meta "{key}", a typo?')
        self._modules.append(module)
        self._metas.append(kwargs)
        self.binded = self.params_initialized = self.optimizer_initialized = False
        return self

    # -- names and shapes ----------------------------------------------------------------------
    @property
    def data_names(self) -> list[str]:
        return self._modules[0].data_names if self._modules else []

    @property
    def output_names(self) -> list[str]:
        return self._modules[-1].output_names if self._modules else []

    @property
    def data_shapes(self) -> list:
        self._require(binded=True, what="data_shapes")
        return self._modules[0].data_shapes

    @property
    def label_shapes(self) -> list | None:
        self._require(binded=True, what="label_shapes")
        return self._label_shapes

    @property
    def output_shapes(self) -> list:
        self._require(binded=True, what="output_shapes")
        return self._modules[-1].output_shapes

    # -- parameters ----------------------------------------------------------------------------
    def get_params(self) -> tuple[dict, dict]:
        self._require(binded=True, params=True, what="get_params")
        arg_params, aux_params = {}, {}
        for module in self._modules:
            arg, aux = module.get_params()
            arg_params.update(arg)
            aux_params.update(aux)
        return arg_params, aux_params

    def init_params(self, initializer: Any = None, arg_params: dict | None = None,
                    aux_params: dict | None = None, allow_missing: bool = False,
                    force_init: bool = False, allow_extra: bool = False) -> None:
        if self.params_initialized and not force_init:
            return
        self._require(binded=True, what="init_params")
        for module in self._modules:
            module.init_params(initializer=initializer, arg_params=arg_params,
                               aux_params=aux_params, allow_missing=allow_missing,
                               force_init=force_init, allow_extra=True)
        seen_arg: dict[str, int] = {}
        seen_aux: dict[str, int] = {}
        for i, module in enumerate(self._modules):
            arg, aux = module.get_params()
            for names, seen in ((arg, seen_arg), (aux, seen_aux)):
                for name in names:
                    if name in seen:
                        raise MXNetError(f"Duplicated parameter names: name \"{name}\" in layer {i} "
                                         f"({type(module).__name__}) is already used in layer "
                                         f"{seen[name]} ({type(self._modules[seen[name]]).__name__}).")
                    seen[name] = i
        self.params_initialized = True

    # -- bind ----------------------------------------------------------------------------------
    def bind(self, data_shapes: Any, label_shapes: Any = None, for_training: bool = True,
             inputs_need_grad: bool = False, force_rebind: bool = False, shared_module: Any = None,
             grad_req: str = "write") -> None:
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if inputs_need_grad and not for_training:
            raise MXNetError("bind: inputs_need_grad=True requires for_training=True")
        if shared_module is not None:
            raise MXNetError("SequentialModule.bind: shared_module is not supported")
        if not self._modules:
            raise MXNetError("Attempting to bind an empty SequentialModule")
        self.binded = True
        self._label_shapes = label_shapes
        my_data_shapes = data_shapes
        anybody_ever_needs_label = False
        for i, module in enumerate(self._modules):
            meta = self._metas[i]
            if meta.get(self.META_TAKE_LABELS, False):
                my_label_shapes = label_shapes
                anybody_ever_needs_label = True
            else:
                my_label_shapes = None
            my_inputs_need_grad = bool(inputs_need_grad or (for_training and i > 0))
            if meta.get(self.META_AUTO_WIRING, False):
                names = module.data_names
                if len(names) != len(my_data_shapes):
                    raise MXNetError(f"auto_wiring: module {i} has data names {names} but receives "
                                     f"{len(my_data_shapes)} inputs")
                my_data_shapes = [(name, _shape(desc)) for name, desc in zip(names, my_data_shapes)]
            module.bind(data_shapes=my_data_shapes, label_shapes=my_label_shapes,
                        for_training=for_training, inputs_need_grad=my_inputs_need_grad,
                        force_rebind=force_rebind, shared_module=None, grad_req=grad_req)
            my_data_shapes = module.output_shapes
        if not anybody_ever_needs_label:
            self._label_shapes = None
        self.for_training, self.inputs_need_grad = for_training, inputs_need_grad

    def init_optimizer(self, kvstore: Any = "local", optimizer: Any = "sgd",
                       optimizer_params: Any = (("learning_rate", 0.01),), force_init: bool = False) -> None:
        """Each module gets its own optimizer (each with its own rescale_grad)."""
        self._require(binded=True, params=True, what="init_optimizer")
        if self.optimizer_initialized and not force_init:
            self.logger.warning("optimizer already initialized, ignoring.")
            return
        for module in self._modules:
            module.init_optimizer(kvstore=kvstore, optimizer=copy.deepcopy(optimizer)
                                  if not isinstance(optimizer, str) else optimizer,
                                  optimizer_params=optimizer_params, force_init=force_init)
        self.optimizer_initialized = True

    # -- computation ---------------------------------------------------------------------------
    def forward(self, data_batch: Any, is_train: bool | None = None) -> None:
        self._require(binded=True, params=True, what="forward")
        batch = copy.copy(data_batch)
        for i, module in enumerate(self._modules):
            module.forward(batch, is_train=is_train)
            if i + 1 == len(self._modules):
                break
            batch.data = module.get_outputs()
            if hasattr(batch, "provide_data"):
                names = [n for n, _ in module.output_shapes]
                batch.provide_data = [(n, tuple(x.shape)) for n, x in zip(names, batch.data)]

    def backward(self, out_grads: Any = None) -> None:
        self._require(binded=True, params=True, training=True, what="backward")
        for i in reversed(range(len(self._modules))):
            module = self._modules[i]
            module.backward(out_grads=out_grads)
            if i == 0:
                break
            out_grads = module.get_input_grads()

    def update(self) -> None:
        self._require(binded=True, params=True, optimizer=True, what="update")
        for module in self._modules:
            module.update()

    def get_outputs(self, merge_multi_context: bool = True) -> list:
        self._require(binded=True, params=True, what="get_outputs")
        return self._modules[-1].get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context: bool = True) -> list:
        self._require(binded=True, params=True, training=True, what="get_input_grads")
        if not self.inputs_need_grad:
            raise MXNetError("get_input_grads: bind with inputs_need_grad=True first")
        return self._modules[0].get_input_grads(merge_multi_context=merge_multi_context)

    def update_metric(self, eval_metric: Any, labels: Any, pre_sliced: bool = False) -> None:
        """Updates ``eval_metric`` once per module that takes labels."""
        self._require(binded=True, params=True, what="update_metric")
        for meta, module in zip(self._metas, self._modules):
            if meta.get(self.META_TAKE_LABELS, False):
                module.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon: Any) -> None:
        self._require(binded=True, what="install_monitor")
        for module in self._modules:
            module.install_monitor(mon)


def _shape(desc: Any) -> tuple:
    return tuple(desc.shape) if hasattr(desc, "shape") else tuple(desc[1])
