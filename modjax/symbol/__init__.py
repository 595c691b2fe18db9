"""``mx.sym``: Symbol graphs, their JSON, inference and lowering."""
from .. import ops as _ops  # noqa: F401  (registers the operators)
from .symbol import Symbol, Variable, var, Group, load, load_json, fromjson  # noqa: F401
from .naming import NameManager, Prefix, AttrScope  # noqa: F401
from .op_functions import install as _install

_install(globals())
