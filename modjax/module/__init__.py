"""``mx.mod``: BaseModule, Module (and, as they land, BucketingModule, SequentialModule, ...)."""
from .base_module import BaseModule, ModuleStateError  # noqa: F401
from .module import Module  # noqa: F401
from .bucketing_module import BucketingModule  # noqa: F401
from .sequential_module import SequentialModule  # noqa: F401
from .python_module import PythonModule, PythonLossModule  # noqa: F401
