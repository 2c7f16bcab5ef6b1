"""Real background text for the narrative models: the "none" side that synthetic negatives cannot give.

Real news, web and literature (`../shared/data/realtext`, none of it propaganda) teach both models what ordinary
writing in each language looks like. The project may not carry that text, so only features are shipped:
e5 embeddings in fp16 and hashed character n-gram counts (`background/realtext-a.npz`, sources and licences in
`background/README.md`). `pmon train` on a clone without ../shared therefore trains the same model.

Every real item has a fixed part, by a hash of its id (`split_of`): `train` (60%) is background, `dev` (20%)
chose the settings, `test` (20%) is only measured on. Rebuild after changing the realtext set::

    python -m pmon.classifiers.narratives.background ../shared/data/realtext
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pmon.classifiers.narratives.model import Background, CharFeatures
from pmon.classifiers.narratives.sentences import split_sentences
from pmon.schemas.documents import content_hash
from pmon.schemas.jsonl import read_objects

DEFAULT_BACKGROUND = Path(__file__).parent / "background" / "realtext-a.npz"
SPLITS = ("train", "dev", "test")
#: Rows kept per language variety (language, script, Persian variety): every variety weighs about the same, and the
#: shipped file stays near 8 MB. Measured on the dev part: 1,000 per variety did as well as all 14,877 rows.
ROWS_PER_VARIETY = 1000


def split_of(item_id: str) -> str:
    """`train`, `dev` or `test` for a real item, fixed by its id: 60/20/20 by the first byte of its SHA-256."""
    bucket = hashlib.sha256(item_id.encode()).digest()[0] * 10 // 256
    return "train" if bucket < 6 else "dev" if bucket < 8 else "test"


def real_items(folder: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """The items of a realtext folder (sentences.jsonl, documents.jsonl), optionally of one split only."""
    items = []
    for name in ("sentences.jsonl", "documents.jsonl"):
        path = Path(folder) / name
        if path.exists():
            items += [row for _, row in read_objects(path) if split is None or split_of(str(row.get("id"))) == split]
    return items


def background_texts(items: Iterable[dict[str, Any]], per_variety: int | None = None) -> tuple[list[str], list[str]]:
    """(texts, langs): sentences as they are, documents cut as the classifier cuts them, each text once; at most
    `per_variety` texts per language variety, drawn with a fixed seed."""
    seen: set[str] = set()
    by_variety: dict[str, list[tuple[str, str]]] = {}
    for item in items:
        pieces = split_sentences(item["text"]) if item.get("kind") == "document" else [item["text"]]
        variety = f"{item.get('lang')}-{item.get('script')}-{item.get('variety', '')}"
        for piece in pieces:
            key = content_hash(piece)
            if key not in seen:
                seen.add(key)
                by_variety.setdefault(variety, []).append((piece, str(item.get("lang", "und"))))
    rng = random.Random(20261207)  # noqa: S311 - a seeded, reproducible sample, not a secret
    chosen: list[tuple[str, str]] = []
    for variety in sorted(by_variety):
        rows = by_variety[variety]
        chosen += rows if per_variety is None or len(rows) <= per_variety else rng.sample(rows, per_variety)
    return [text for text, _ in chosen], [lang for _, lang in chosen]


def build_background(
    folder: str | Path, encoder: Any, out: Path = DEFAULT_BACKGROUND, per_variety: int | None = ROWS_PER_VARIETY,
) -> Background:
    """Embed and hash the `train` part of a realtext folder and write it to `out` (features only, no text)."""
    items = real_items(folder, "train")
    texts, langs = background_texts(items, per_variety)
    embeddings = encoder.encode(texts, batch_size=64).astype(np.float16)
    counts = CharFeatures().counts(texts)
    background = Background(embeddings=embeddings, counts=counts, langs=np.array(langs))
    sources = Counter(str(item.get("source", "?")).split(":")[0] for item in items)
    licences = {str(item.get("source", "?")).split(":")[0]: str(item.get("licence", "?")) for item in items}
    meta = {"encoder": encoder.name, "rows": len(texts), "items": len(items), "langs": dict(Counter(langs)),
            "per_variety": per_variety,
            "sources": {s: {"items": n, "licence": licences[s]} for s, n in sources.most_common()}}
    save_background(background, out, meta)
    return load_background(out) or background


def save_background(background: Background, path: Path, meta: dict[str, Any]) -> None:
    """Write a background as compressed arrays (no pickle), packed to stay small: embeddings as int8 with a scale
    per row (cosine to the original >= 0.9999), n-gram columns sorted and delta-coded per row and split into low
    and high bytes (which compress twice as well as raw column numbers), counts capped at 255."""
    counts = background.counts.tocsr()
    counts.sort_indices()
    deltas = np.diff(counts.indices.astype(np.int64), prepend=0)
    starts = counts.indptr[:-1][np.diff(counts.indptr) > 0]  # each non-empty row's first entry keeps its column
    deltas[starts] = counts.indices[starts]
    vectors = background.embeddings.astype(np.float32)
    scale = np.abs(vectors).max(axis=1, keepdims=True) + 1e-12
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, embeddings_q=np.round(vectors / scale * 127).astype(np.int8), embeddings_scale=scale.astype(np.float32),
        indptr=counts.indptr.astype(np.int32), deltas_lo=(deltas & 0xFF).astype(np.uint8),
        deltas_hi=(deltas >> 8).astype(np.uint16), data=np.minimum(counts.data, 255).astype(np.uint8),
        langs=background.langs.astype(str), meta=np.array(json.dumps(meta, ensure_ascii=False)),
    )


def load_background(path: str | Path | None = None) -> Background | None:
    """The shipped background (or the one at `path`); None when there is none."""
    from scipy import sparse

    path = Path(path) if path else DEFAULT_BACKGROUND
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        n = len(data["langs"])
        indptr = data["indptr"]
        deltas = data["deltas_lo"].astype(np.int64) | (data["deltas_hi"].astype(np.int64) << 8)
        # Undo the delta coding row by row: a cumulative sum that restarts at each row's first column.
        starts = indptr[:-1][np.diff(indptr) > 0]
        restart = np.zeros(len(deltas), dtype=np.int64)
        restart[starts] = np.cumsum(deltas)[starts] - deltas[starts]
        indices = (np.cumsum(deltas) - np.maximum.accumulate(restart)).astype(np.int32)
        counts = sparse.csr_matrix(
            (data["data"].astype(np.float32), indices, indptr), shape=(n, CharFeatures.N_FEATURES)
        )
        embeddings = (data["embeddings_q"].astype(np.float32) * data["embeddings_scale"] / 127).astype(np.float16)
        return Background(embeddings=embeddings, counts=counts, langs=data["langs"])


def background_fingerprint(path: str | Path | None = None) -> str:
    """A digest of the background file's bytes ("none" without one): trained heads are cached per background."""
    path = Path(path) if path else DEFAULT_BACKGROUND
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else "none"


def background_meta(path: str | Path | None = None) -> dict[str, Any]:
    """What a background file says about itself (encoder, rows, sources and licences)."""
    with np.load(Path(path) if path else DEFAULT_BACKGROUND, allow_pickle=False) as data:
        return dict(json.loads(str(data["meta"])))


def main(argv: list[str] | None = None) -> None:
    """Rebuild the shipped background from a realtext folder."""
    from pmon.classifiers.encoders import load_encoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realtext", type=Path, help="folder with sentences.jsonl and documents.jsonl")
    parser.add_argument("--out", type=Path, default=DEFAULT_BACKGROUND)
    args = parser.parse_args(argv)
    background = build_background(args.realtext, load_encoder(), args.out)
    size = args.out.stat().st_size / 1e6
    print(f"{len(background)} background rows -> {args.out} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
