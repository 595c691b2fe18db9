"""Module checkpoints: MXNet's files (``prefix-symbol.json``, ``prefix-%04d.params``) and
optimizer states in modjax's safe format (MXNet's pickled ``.states`` only on request)."""
from __future__ import annotations

import logging
from typing import Any

__all__ = ["CheckpointMixin"]


class CheckpointMixin:
    """save_checkpoint / load / optimizer states for :class:`~modjax.module.Module`."""

    def save_checkpoint(self, prefix: str, epoch: int, save_optimizer_states: bool = False,
                        remove_amp_cast: bool = True) -> None:
        """``prefix-symbol.json``, ``prefix-%04d.params`` and optionally ``prefix-%04d.states``
        (in a multi-process job, written by process 0 only)."""
        from .. import distributed
        if distributed.process_count() > 1:
            self.get_params()  # finish pending steps everywhere before process 0 writes alone
        with distributed.single_writer() as write:
            if not write:
                return
            self._symbol.save(f"{prefix}-symbol.json", remove_amp_cast=remove_amp_cast)
            param_name = "%s-%04d.params" % (prefix, epoch)
            self.save_params(param_name)
            logging.info('Saved checkpoint to "%s"', param_name)
            if save_optimizer_states:
                state_name = "%s-%04d.states" % (prefix, epoch)
                self.save_optimizer_states(state_name)
                logging.info('Saved optimizer state to "%s"', state_name)

    @staticmethod
    def load(prefix: str, epoch: int, load_optimizer_states: bool = False, **kwargs: Any) -> Any:
        """A Module (unbound) with the symbol and parameters of a checkpoint."""
        from ..model import load_checkpoint
        sym, args, auxs = load_checkpoint(prefix, epoch)
        from .module import Module
        mod = Module(symbol=sym, **kwargs)
        mod._loaded_params = (args, auxs)
        mod.params_initialized = True
        if load_optimizer_states:
            mod._preload_opt_states = "%s-%04d.states" % (prefix, epoch)
        return mod

    def save_optimizer_states(self, fname: str) -> None:
        from .. import distributed
        self._require(optimizer=True, what="save_optimizer_states")
        with distributed.single_writer() as write:
            if write:
                self._state.save_optimizer_states(fname)

    def load_optimizer_states(self, fname: str, allow_pickle: bool = False) -> None:
        self._require(optimizer=True, what="load_optimizer_states")
        self._state.load_optimizer_states(fname, allow_pickle=allow_pickle)

