"""pmon: multilingual propaganda monitoring.

One import namespace for the project's folders, mapped in pyproject.toml (``[tool.setuptools] package-dir``):
``pmon.flows`` is ``flows/``, ``pmon.classifiers`` is ``classifiers/``, and so on; ``pmon.codebooks`` and
``pmon.eval`` carry the codebook and the gold sets the code reads at run time.
"""

__version__ = "0.1.0"
