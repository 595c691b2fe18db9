"""``mx.model``: checkpoints in MXNet's files (``prefix-symbol.json``, ``prefix-%04d.params``)."""
from __future__ import annotations

import logging
import os
from collections import namedtuple
from typing import Any

from .base import MXNetError
from .ndarray import io as nd_io
from .ndarray.ndarray import NDArray

__all__ = ["save_checkpoint", "load_checkpoint", "load_params", "BatchEndParam", "split_params"]

BatchEndParam = namedtuple("BatchEndParams", ["epoch", "nbatch", "eval_metric", "locals"])


def _host(value: Any) -> NDArray:
    from .context import cpu
    return value.as_in_context(cpu()) if isinstance(value, NDArray) else NDArray(value, cpu())


def params_dict(arg_params: dict[str, Any], aux_params: dict[str, Any] | None) -> dict[str, NDArray]:
    """One dict with MXNet's ``arg:``/``aux:`` keys, values on the CPU."""
    out = {f"arg:{k}": _host(v) for k, v in arg_params.items()}
    out.update({f"aux:{k}": _host(v) for k, v in (aux_params or {}).items()})
    return out


def split_params(loaded: dict[str, NDArray], source: str) -> tuple[dict, dict]:
    """Split ``arg:``/``aux:`` keys (on the first ``:``); other prefixes are an error."""
    if not isinstance(loaded, dict):
        raise MXNetError(f"Invalid param file {source}: it holds a list of arrays, not a dict "
                         "with arg:/aux: keys")
    arg, aux = {}, {}
    for key, value in loaded.items():
        kind, sep, name = key.partition(":")
        if not sep or kind not in ("arg", "aux"):
            raise MXNetError(f"Invalid param file {source}: key '{key}' does not start with "
                             "'arg:' or 'aux:'")
        (arg if kind == "arg" else aux)[name] = value
    return arg, aux


def save_checkpoint(prefix: str, epoch: int, symbol: Any, arg_params: dict[str, Any],
                    aux_params: dict[str, Any], remove_amp_cast: bool = True) -> None:
    """Write ``prefix-symbol.json`` and ``prefix-%04d.params``, each atomically (in a
    multi-process job, process 0 writes and every process waits for it)."""
    from . import distributed
    with distributed.single_writer() as write:
        if not write:
            return
        if symbol is not None:
            symbol.save(f"{prefix}-symbol.json", remove_amp_cast=remove_amp_cast)
        param_name = "%s-%04d.params" % (prefix, epoch)
        nd_io.save(param_name, params_dict(arg_params, aux_params))
        logging.info('Saved checkpoint to "%s"', param_name)


def load_params(prefix: str, epoch: int) -> tuple[dict, dict]:
    fname = "%s-%04d.params" % (prefix, epoch)
    if not os.path.exists(fname):
        raise MXNetError(f"checkpoint parameter file '{fname}' does not exist")
    return split_params(nd_io.load(fname), fname)


def load_checkpoint(prefix: str, epoch: int) -> tuple[Any, dict, dict]:
    """(symbol, arg_params, aux_params) from ``prefix-symbol.json`` and ``prefix-%04d.params``."""
    from .symbol import load as load_symbol
    symbol = load_symbol(f"{prefix}-symbol.json")
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params
