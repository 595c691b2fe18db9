"""``mx.nd``: NDArray, creation functions, the .params format and every operator, eagerly."""
from .. import ops as _ops  # noqa: F401  (registers the operators)
from .ndarray import (NDArray, array, zeros, ones, full, empty, arange, waitall,  # noqa: F401
                      concatenate)
from .io import save, load, load_frombuffer  # noqa: F401
from .op_functions import install as _install, invoke  # noqa: F401
from .nd_functions import install as _install_helpers

_install_helpers(globals())

_install(globals())

from ..ops.fluent import install_fluent as _install_fluent  # noqa: E402

_install_fluent(NDArray, invoke)
