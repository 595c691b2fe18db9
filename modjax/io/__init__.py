"""``mx.io``: data descriptions, batches and data iterators (MXNet 1.9.1 semantics)."""
from .io import DataBatch, DataDesc, DataIter, NDArrayIter, PrefetchingIter, ResizeIter  # noqa: F401
from .native import CSVIter, LibSVMIter, MNISTIter, MXDataIter  # noqa: F401
from .image_record import ImageRecordIter, ImageRecordUInt8Iter  # noqa: F401
from . import utils  # noqa: F401

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "ResizeIter", "PrefetchingIter",
           "MXDataIter", "CSVIter", "MNISTIter", "ImageRecordIter", "ImageRecordUInt8Iter",
           "LibSVMIter"]
