"""Mutual nearest neighbours with a margin score, per language pair, blocked by time window."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pmon.classifiers.narratives.sentences import split_sentences


@dataclass(frozen=True)
class LinkDocument:
    """One document to link: its language decides which neighbours it is compared with."""

    id: str
    text: str
    lang: str
    published_at: datetime
    source: str = ""


@dataclass(frozen=True)
class LinkSettings:
    """How close two documents must be to be one message.

    The defaults were chosen on the calibration part of NTREX-128 (docs/links.md); the figures quoted there are
    from its separate held-out part.

    Attributes:
        window_hours: documents further apart in time are never linked.
        k: how many nearest neighbours in a language make the denominator of the margin.
        background_cosine: stands in for missing neighbours when a language has fewer than `k` documents in the
            window (a typical cosine of two unrelated documents for this encoder), so that a lone candidate
            does not make its own denominator.
        min_margin: a mutual pair is linked from this margin up.
        min_cosine: and never below this cosine, whatever the neighbourhood.
        same_lang_min_cosine: two documents of one language are linked only from this cosine up (reposts and
            re-runs with small edits): other passages of one story in one language reach 0.98 with this encoder.
        number_weight: added to the margin times (shared share − 0.5) of the numbers the two texts write, when
            both write some: translations keep dates, counts and years, other passages rarely share them all.
        align_weight: when sentence vectors are given, added to the margin times (alignment − align_center), the
            alignment being the mean over both documents' sentences of each one's best cosine in the other: a
            translation matches sentence by sentence, another passage of the same story only in topic.
        align_center: the alignment at which it neither adds nor takes away.
    """

    window_hours: float = 168.0
    k: int = 4
    background_cosine: float = 0.78
    min_margin: float = 1.022
    min_cosine: float = 0.85
    same_lang_min_cosine: float = 0.985
    number_weight: float = 0.02
    align_weight: float = 0.4
    align_center: float = 0.85


@dataclass(frozen=True)
class Membership:
    """Where one document belongs.

    Attributes:
        group: the message group's id (the id of the document that started it).
        first_id: the group's earliest document among those linked together.
        lag_hours: hours after `first_id` this document was published.
        score: the margin of the strongest link that brought it in; None for a document alone or the founder
            of a group nothing joined yet.
    """

    group: str
    first_id: str
    lag_hours: float
    score: float | None


def sentence_embeddings(
    texts: Sequence[str], embed: Callable[[list[str]], np.ndarray], *, dim: int | None = None,
) -> list[np.ndarray]:
    """Each text's sentence embeddings, (m_i, d) per text, from one call of `embed` over all their sentences.

    Args:
        texts: documents, split with the narrative classifier's `split_sentences` (so a run's cached sentence
            embeddings serve).
        embed: sentences → (m, d) L2-normalised rows (an Encoder's ``encode`` or a classifier's cached ``embed``).
        dim: embedding length, needed only when `texts` is empty.
    """
    pieces = [split_sentences(text) or [text] for text in texts]
    flat = [p for doc in pieces for p in doc]
    if not flat:
        return []
    vectors = np.asarray(embed(flat), dtype=np.float32)
    bounds = np.cumsum([0, *(len(doc) for doc in pieces)])
    return [vectors[bounds[i]:bounds[i + 1]] for i in range(len(texts))]


def document_embeddings(
    texts: Sequence[str] | None = None, embed: Callable[[list[str]], np.ndarray] | None = None, *,
    dim: int | None = None, sentences: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Each text's embedding as the mean of its sentences' embeddings, L2-normalised.

    The mean of sentences rather than the encoder on the whole text: the monitor flow has already embedded (and
    cached) every sentence for the narrative classifier, so linking costs no encoder pass, and long documents are
    not truncated at the encoder's 512 tokens.

    Args:
        texts: documents (with `embed`), or None when `sentences` are given.
        embed: sentences → (m, d) L2-normalised rows.
        dim: embedding length, needed only when there are no texts.
        sentences: sentence embeddings per document, from :func:`sentence_embeddings`.

    Returns:
        float32 array (number of documents, d).
    """
    if sentences is None:
        if texts is None or embed is None:
            raise ValueError("give texts and embed, or sentences")
        sentences = sentence_embeddings(texts, embed, dim=dim)
    if not len(sentences):
        return np.zeros((0, dim or 0), dtype=np.float32)
    out: np.ndarray = np.stack([rows.mean(axis=0) for rows in sentences]).astype(np.float32)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


#: Rows compared at once: 1,024 × a window of ~20,000 documents is an 80 MB similarity matrix.
_ROWS_PER_CHUNK = 1024

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_NUMBER = re.compile(r"\d+(?:[.,٫٬]\d+)*")


def numbers_in(text: str) -> frozenset[str]:
    """The numbers a text writes, in any of its scripts' digits, separators dropped (``1,500`` → ``1500``)."""
    return frozenset(re.sub(r"\D", "", n) for n in _NUMBER.findall(text.translate(_DIGITS)))


def link(
    documents: Sequence[LinkDocument],
    embeddings: np.ndarray,
    settings: LinkSettings | None = None,
    known: Mapping[str, str] | None = None,
    sentences: Sequence[np.ndarray] | None = None,
) -> dict[str, Membership]:
    """Group documents into messages.

    Args:
        documents: documents to link, and those already linked that are within the window of the new ones.
        embeddings: (len(documents), d) L2-normalised rows, e.g. from :func:`document_embeddings`.
        settings: thresholds (defaults: :class:`LinkSettings`).
        known: document id → group id of documents linked before: they keep their group (never re-linked), and a
            new document may join it. Two known groups are never merged.
        sentences: each document's sentence embeddings (:func:`sentence_embeddings`), for the alignment term;
            the default thresholds were chosen with it (without it, a margin of 1.014 was the NTREX choice).

    Returns:
        document id → :class:`Membership`, for every document given.
    """
    settings = settings or LinkSettings()
    known = known or {}
    n = len(documents)
    if embeddings.shape[0] != n:
        raise ValueError(f"{n} documents but {embeddings.shape[0]} embeddings")
    if n == 0:
        return {}
    hours = np.array([d.published_at.timestamp() / 3600.0 for d in documents])
    lang_names = sorted({d.lang for d in documents})
    lang_of = np.array([lang_names.index(d.lang) for d in documents])
    knn, best, best_cos = _neighbourhoods(embeddings, hours, lang_of, len(lang_names), settings)

    numbers = [numbers_in(d.text) for d in documents]
    edges: list[tuple[float, int, int]] = []
    for i in range(n):
        for lang in range(len(lang_names)):
            j = best[i, lang]
            if j <= i or best[j, lang_of[i]] != i:  # each mutual pair once
                continue
            if documents[i].id in known and documents[j].id in known:
                continue
            cos = float(best_cos[i, lang])
            margin = cos / ((knn[i, lang] + knn[j, lang_of[i]]) / 2.0)
            if numbers[i] and numbers[j]:
                shared = len(numbers[i] & numbers[j]) / len(numbers[i] | numbers[j])
                margin += settings.number_weight * (shared - 0.5)
            if sentences is not None and settings.align_weight:
                margin += settings.align_weight * (_alignment(sentences[i], sentences[j]) - settings.align_center)
            floor = settings.same_lang_min_cosine if lang == lang_of[i] else settings.min_cosine
            if margin >= settings.min_margin and cos >= floor:
                edges.append((margin, i, j))
    return _groups(documents, hours, edges, known)


def _alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Mean, over the sentences of both, of each sentence's best cosine in the other document."""
    sims = a @ b.T
    return float((sims.max(axis=1).mean() + sims.max(axis=0).mean()) / 2.0)


def _neighbourhoods(
    embeddings: np.ndarray, hours: np.ndarray, lang_of: np.ndarray, n_langs: int, settings: LinkSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per document and language: mean of the k nearest cosines (padded), the nearest one and its cosine."""
    n = len(hours)
    knn = np.full((n, n_langs), settings.background_cosine, dtype=np.float64)
    best = np.full((n, n_langs), -1, dtype=np.int64)
    best_cos = np.full((n, n_langs), -np.inf, dtype=np.float64)
    order = np.argsort(hours, kind="stable")
    block = np.floor((hours[order] - hours[order[0]]) / settings.window_hours).astype(np.int64)
    starts = np.searchsorted(block, np.arange(block[-1] + 2))
    vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
    for b in range(block[-1] + 1):
        # A window-wide block meets only itself and its neighbours: nothing further can be within the window.
        cols = order[starts[max(b - 1, 0)]:starts[min(b + 2, block[-1] + 1)]]
        for chunk in range(starts[b], starts[b + 1], _ROWS_PER_CHUNK):  # bounds the similarity matrix's memory
            rows = order[chunk:min(chunk + _ROWS_PER_CHUNK, starts[b + 1])]
            _update_rows(rows, cols, vectors, hours, lang_of, settings, knn, best, best_cos)
    return knn, best, best_cos


def _update_rows(
    rows: np.ndarray, cols: np.ndarray, vectors: np.ndarray, hours: np.ndarray, lang_of: np.ndarray,
    settings: LinkSettings, knn: np.ndarray, best: np.ndarray, best_cos: np.ndarray,
) -> None:
    """Fill `knn`, `best` and `best_cos` for `rows`, comparing them with `cols`."""
    k = settings.k
    sims = vectors[rows] @ vectors[cols].T
    too_far = np.abs(hours[rows][:, None] - hours[cols][None, :]) > settings.window_hours
    sims[too_far | (rows[:, None] == cols[None, :])] = -np.inf
    for lang in np.unique(lang_of[cols]):
        in_lang = lang_of[cols] == lang
        sub = sims[:, in_lang]
        top = min(k, sub.shape[1])
        nearest = -np.partition(-sub, top - 1, axis=1)[:, :top]
        nearest = np.where(np.isfinite(nearest), nearest, settings.background_cosine)
        padded = np.concatenate([nearest, np.full((len(rows), k - top), settings.background_cosine)], axis=1)
        knn[rows, lang] = padded.mean(axis=1)
        arg = sub.argmax(axis=1)
        found = np.isfinite(sub[np.arange(len(rows)), arg])
        best[rows[found], lang] = cols[in_lang][arg[found]]
        best_cos[rows[found], lang] = sub[np.arange(len(rows)), arg][found]


def _groups(
    documents: Sequence[LinkDocument], hours: np.ndarray, edges: list[tuple[float, int, int]],
    known: Mapping[str, str],
) -> dict[str, Membership]:
    """Union the linked pairs, strongest first, never merging two groups that were already known."""
    parent = list(range(len(documents)))
    fixed: dict[int, str] = {i: known[d.id] for i, d in enumerate(documents) if d.id in known}
    score: dict[int, float] = {}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Known members of one group start as one set, so new documents join the group, not one member.
    by_group: dict[str, int] = {}
    for i, group in list(fixed.items()):
        if group in by_group:
            parent[i] = by_group[group]
        else:
            by_group[group] = i
    fixed = {i: g for g, i in by_group.items()}

    for margin, i, j in sorted(edges, reverse=True):
        ri, rj = root(i), root(j)
        if ri == rj or (ri in fixed and rj in fixed):
            continue
        if rj in fixed:
            ri, rj = rj, ri
        parent[rj] = ri
        for member in (i, j):
            if documents[member].id not in known:
                score[member] = max(score.get(member, margin), margin)

    members: dict[int, list[int]] = {}
    for i in range(len(documents)):
        members.setdefault(root(i), []).append(i)
    out: dict[str, Membership] = {}
    for r, group_members in members.items():
        first = min(group_members, key=lambda m: (hours[m], documents[m].id))
        group = fixed.get(r, documents[first].id)
        for m in group_members:
            out[documents[m].id] = Membership(
                group=group, first_id=documents[first].id, lag_hours=round(float(hours[m] - hours[first]), 2),
                score=round(score[m], 4) if m in score else None,
            )
    return out
