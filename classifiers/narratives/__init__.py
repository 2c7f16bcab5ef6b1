"""Narrative classification over the codebook's leaf narratives, with stance and evidence.

    >>> classifier = load_classifier()                      # doctest: +SKIP
    >>> classifier.classify(["..."])[0].narratives           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from pmon.classifiers.narratives.model import (
    HEADS_FORMAT,
    STANCES,
    Background,
    EmbeddingCache,
    Heads,
    MemoryEmbeddingCache,
    NarrativeClassifier,
    Settings,
    TrainingSet,
    codebook_training_set,
    fit_heads,
)
from pmon.classifiers.narratives.sentences import split_sentences
from pmon.schemas.codebook import DEFAULT_CODEBOOK, Codebook, load_codebook
from pmon.settings import settings

__all__ = [
    "STANCES",
    "Background",
    "EmbeddingCache",
    "Heads",
    "MemoryEmbeddingCache",
    "NarrativeClassifier",
    "Settings",
    "TrainingSet",
    "codebook_training_set",
    "fit_heads",
    "heads_for_warehouse",
    "load_classifier",
    "split_sentences",
    "train_classifier",
    "trained_heads_path",
]

_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str, str], NarrativeClassifier] = {}


def cache_dir() -> Path:
    """Where trained heads are kept: $PMON_CACHE_DIR/narratives (default ~/.cache/pmon/narratives)."""
    return settings().cache_dir / "narratives"


def trained_heads_path(db: str | Path) -> Path:
    """Where `pmon train --db DB` keeps the heads it trains with DB's analyst labels."""
    db = Path(db)
    return db.resolve().parent / "models" / f"{db.stem}.narrative-heads.npz"


def heads_for_warehouse(db: str | Path) -> Path | None:
    """The heads a run into `db` uses: $PMON_NARRATIVE_HEADS if set (None here: `load_classifier` reads it),
    else those `pmon train --db` wrote for it, else None (the codebook's own)."""
    if settings().narrative_heads:
        return None
    path = trained_heads_path(db)
    return path if path.exists() else None


def train_classifier(
    codebook: Codebook, encoder: object, extra: TrainingSet | None = None, out: Path | None = None,
    background: Background | None = None, settings: Settings | None = None,
) -> Heads:
    """Embed the codebook's exemplars (plus analyst-labelled texts) and fit the heads, with the shipped real
    background text as "none" (or `background`); saved to `out` if given."""
    from pmon.classifiers.narratives.background import load_background

    data = codebook_training_set(codebook)
    if extra:
        weights = extra.weights or [1.0] * len(extra.texts)
        for text, labels, stance, lang, weight in zip(
            extra.texts, extra.labels, extra.stances, extra.langs, weights, strict=True
        ):
            data.add(text, labels, stance, lang, weight)
    background = background if background is not None else load_background()
    x = encoder.encode(data.texts, batch_size=64)  # type: ignore[attr-defined]
    meta = {"codebook": codebook.version_tag, "encoder": encoder.name,  # type: ignore[attr-defined]
            "examples": str(len(data.texts)), "analyst_examples": str(len(extra.texts) if extra else 0)}
    heads = fit_heads(x, data, codebook.leaf_ids, settings=settings, background=background, meta=meta)
    if out is not None:
        heads.save(out)
    return heads


def load_classifier(
    codebook_dir: str | Path | None = None, heads_path: str | Path | None = None, encoder: object | None = None,
) -> NarrativeClassifier:
    """The classifier for a codebook, trained at first use and cached on disk (and in memory per process).

    Args:
        codebook_dir: codebook folder (default: codebooks/iskp, or $PMON_CODEBOOK).
        heads_path: heads trained by `pmon train` (default: $PMON_NARRATIVE_HEADS, else the codebook's cached heads).
        encoder: an Encoder (default: `pmon.classifiers.encoders.load_encoder()`).
    """
    from pmon.classifiers.encoders import load_encoder

    configured = settings()
    codebook_dir = Path(codebook_dir or configured.codebook or DEFAULT_CODEBOOK)
    heads_path = Path(heads_path) if heads_path else configured.narrative_heads
    key = (str(codebook_dir.resolve()), str(heads_path), configured.encoder or "")
    with _LOCK:
        if encoder is None and key in _LOADED:
            return _LOADED[key]
        codebook = load_codebook(codebook_dir)
        encoder = encoder or load_encoder()
        if heads_path is not None and heads_path.exists():
            heads = Heads.load(heads_path)
            if heads.meta.get("codebook") != codebook.version_tag:
                raise ValueError(
                    f"{heads_path} was trained on codebook {heads.meta.get('codebook')}, not {codebook.version_tag}; "
                    "run `pmon train` again"
                )
        else:
            from pmon.classifiers.narratives.background import background_fingerprint

            # Cached heads are keyed by everything they are trained from, the settings included.
            key_text = (f"{HEADS_FORMAT}|{codebook.fingerprint}|{encoder.name}|{background_fingerprint()}"  # type: ignore[attr-defined]
                        f"|{Settings()!r}")
            path = cache_dir() / f"{codebook.id}-{hashlib.sha256(key_text.encode()).hexdigest()[:16]}.npz"
            try:
                heads = Heads.load(path)
            except (OSError, KeyError, ValueError):  # absent, or written by another version: train afresh
                heads = train_classifier(codebook, encoder, out=path)
        classifier = NarrativeClassifier(encoder, heads, codebook)
        _LOADED[key] = classifier
        return classifier
