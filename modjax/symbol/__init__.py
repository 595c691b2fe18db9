"""``mx.sym``: Symbol graphs, their JSON, inference and lowering."""
from .. import ops as _ops  # noqa: F401  (registers the operators)
from .symbol import Symbol, Variable, var, Group, load, load_json, fromjson  # noqa: F401
from .naming import NameManager, Prefix, AttrScope  # noqa: F401
from .op_functions import install as _install

_install(globals())

from ..ops.fluent import install_fluent as _install_fluent  # noqa: E402
from .symbol import make_op as _make_op  # noqa: E402

_install_fluent(Symbol, lambda op, args, kwargs: _make_op(op, op.lower(), args, kwargs))
