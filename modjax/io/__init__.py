"""``mx.io``: data descriptions, batches and data iterators (MXNet 1.9.1 semantics)."""
from .io import DataBatch, DataDesc, DataIter, NDArrayIter, PrefetchingIter, ResizeIter  # noqa: F401
from .native import CSVIter, LibSVMIter, MNISTIter, MXDataIter  # noqa: F401
from . import utils  # noqa: F401

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "ResizeIter", "PrefetchingIter",
           "MXDataIter", "CSVIter", "MNISTIter", "ImageRecordIter", "ImageRecordUInt8Iter",
           "LibSVMIter"]


def __getattr__(name: str):
    """ImageRecordIter and ImageRecordUInt8Iter load the image stack (PIL, augmenters) when
    first used, not at ``import modjax``."""
    if name in ("ImageRecordIter", "ImageRecordUInt8Iter"):
        from . import image_record
        return getattr(image_record, name)
    raise AttributeError(f"module 'modjax.io' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | {"ImageRecordIter", "ImageRecordUInt8Iter"})
