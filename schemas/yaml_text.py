"""YAML parsing for the files analysts edit (the sources file, the codebook).

PyYAML's pure-Python parser took 1.1 s for a 500-source file, on every run; its C parser (libyaml, bundled
in PyYAML's wheels) reads the same file in a few tens of milliseconds. Both are safe loaders: plain data only.
"""

from __future__ import annotations

from typing import Any

import yaml

#: libyaml's safe loader where PyYAML was built with it; the pure-Python one otherwise (same results, slower).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """The plain data in `text` (dicts, lists, strings, numbers...); raises `yaml.YAMLError` on bad YAML."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader, C or Python
