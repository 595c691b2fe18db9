"""The operator registry and every operator definition (imported here to register them)."""
from . import registry, params, shape_rules  # noqa: F401
from . import nn, loss  # noqa: F401  (each module registers its operators)
from . import elemwise  # noqa: F401
from . import shape  # noqa: F401
from . import reduce  # noqa: F401
from .registry import OpDef, OpCtx, get_op, find_op, all_ops, register  # noqa: F401
from . import rnn  # noqa: F401,E402  (the fused RNN operator)
from . import nn_more  # noqa: F401,E402  (Deconvolution, LeakyReLU, the norms, UpSampling, ...)
from . import nn_vision  # noqa: F401,E402  (GridGenerator, BilinearSampler, ROIPooling, Correlation, ...)
from . import indexing, math_ops, shape_more, random_ops  # noqa: F401,E402  (issue 3, part A)
from . import custom  # noqa: F401,E402  (Custom: Python operators of mx.operator)
