"""Online evaluation metrics (MXNet's ``mx.metric``).

Metrics run on the host with numpy, exactly as MXNet 1.9.1 computes them, including
its quirks: regression metrics average per batch (each ``update`` pair counts once),
F1/MCC ``macro`` average one score per ``update`` call, Perplexity returns
``exp(sum/num)``, and ``get()`` gives ``nan`` before the first update.

Labels and predictions are lists of array-likes: modjax NDArrays (anything with
``.asnumpy()``), jax arrays or numpy arrays.
"""
from .base import (EvalMetric, CompositeEvalMetric, create, register, alias, _REGISTRY,  # noqa: F401
                   check_label_shapes, MetricShapeError, MetricValueError)
from .classification import Accuracy, TopKAccuracy, F1, MCC, Perplexity  # noqa: F401
from .regression import (MAE, MSE, RMSE, CrossEntropy, NegativeLogLikelihood,  # noqa: F401
                         PearsonCorrelation, PCC)
from .custom import Loss, Torch, Caffe, CustomMetric, np  # noqa: F401
