"""Command-line tools (MXNet's ``tools/``): ``python -m modjax.tools.im2rec``."""
