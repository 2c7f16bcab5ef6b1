"""The narrative classifier: multilingual sentence embeddings and character n-grams → a narrative model and a
stance model, whose product scores each sentence.

Training data come from the codebook (exemplars of every leaf narrative by stance, hard negatives, unrelated
text, in each language) plus analyst labels from the warehouse. Documents are split into sentences; each
sentence is scored, a document's score for a narrative is its best sentence's, and the sentences over the
threshold are the evidence.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.narratives.sentences import split_sentences
from schemas.codebook import Codebook, Stance
from schemas.detections import Classification, NarrativeScore
from schemas.documents import content_hash

STANCES: tuple[str, ...] = ("promote", "report", "counter", "none")
#: A sentence carries a narrative when its score reaches this. Chosen on the development half of the gold sets
#: (eval/narratives, even ids): macro-F1 0.901 at 0.30 and 0.35, 0.894 at 0.40, with no false alarm on everyday news.
THRESHOLD = 0.35
EVIDENCE_PER_LABEL = 2


@dataclass
class TrainingSet:
    """Texts with multi-hot leaf labels and a stance each."""

    texts: list[str] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)
    stances: list[str] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)

    def add(self, text: str, labels: list[str], stance: str, lang: str) -> None:
        """Append one example."""
        self.texts.append(text)
        self.labels.append(labels)
        self.stances.append(stance)
        self.langs.append(lang)

    def matrix(self, leaf_ids: Sequence[str]) -> np.ndarray:
        """(n, L) 0/1 label matrix in `leaf_ids` order."""
        index = {leaf: i for i, leaf in enumerate(leaf_ids)}
        y = np.zeros((len(self.texts), len(leaf_ids)), dtype=np.int8)
        for row, labels in enumerate(self.labels):
            for label in labels:
                if label in index:
                    y[row, index[label]] = 1
        return y


def codebook_training_set(codebook: Codebook) -> TrainingSet:
    """Every exemplar of the codebook as a training example."""
    data = TrainingSet()
    for exemplar_set in codebook.exemplars:
        for leaf, by_stance in exemplar_set.narratives.items():
            for stance in ("promote", "report", "counter"):
                for text in getattr(by_stance, stance):
                    data.add(text, [leaf], stance, exemplar_set.lang)
        for text in [*exemplar_set.hard_negatives, *exemplar_set.unrelated]:
            data.add(text, [], "none", exemplar_set.lang)
    return data


class EmbeddingCache:
    """Where sentence embeddings are kept by content hash (the warehouse implements it for runs)."""

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:  # pragma: no cover - protocol
        """Vectors known for these hashes."""
        raise NotImplementedError

    def put(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:  # pragma: no cover - protocol
        """Remember vectors."""
        raise NotImplementedError


class MemoryEmbeddingCache(EmbeddingCache):
    """A bounded in-process cache (the default)."""

    def __init__(self, max_items: int = 50_000) -> None:
        self.max_items = max_items
        self._store: dict[tuple[str, str], np.ndarray] = {}

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors known for these hashes."""
        return {h: self._store[(model, h)] for h in hashes if (model, h) in self._store}

    def put(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Remember vectors, forgetting the oldest past `max_items`."""
        for h, v in zip(hashes, vectors, strict=True):
            self._store[(model, h)] = np.array(v, copy=True)  # a row view would keep its whole batch alive
        while len(self._store) > self.max_items:
            self._store.pop(next(iter(self._store)))


class CharFeatures:
    """Character n-gram TF-IDF (2–5 within word boundaries): script- and spelling-level evidence the encoder misses
    (names, Tajik ҷ, Pashto letters, transliterated Latin Uyghur), with a vocabulary saved beside the heads."""

    def __init__(self, terms: Sequence[str] | None = None, idf: np.ndarray | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        options = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "dtype": np.float32}
        if terms is None:
            self.vectorizer = TfidfVectorizer(min_df=2, max_features=50_000, **options)
        else:
            self.vectorizer = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(terms)}, **options)
            self.vectorizer.idf_ = np.asarray(idf, dtype=np.float32)

    def fit_transform(self, texts: Sequence[str]) -> Any:
        """Learn the vocabulary and idf; return the (n, V) sparse matrix."""
        return self.vectorizer.fit_transform(texts)

    def transform(self, texts: Sequence[str]) -> Any:
        """(n, V) sparse TF-IDF rows."""
        return self.vectorizer.transform(texts)

    @property
    def terms(self) -> np.ndarray:
        """Vocabulary in column order."""
        return self.vectorizer.get_feature_names_out()

    @property
    def idf(self) -> np.ndarray:
        """Inverse document frequencies in column order."""
        return self.vectorizer.idf_


@dataclass
class Heads:
    """The trained part, two models of two kinds each (one on the sentence embedding, one on character n-grams):

    - which narrative: a softmax over the leaf narratives plus "none", the two kinds combined as a product of
      experts. One softmax with a "none" class makes the narratives compete with each other and with everyday
      text, which a yes/no head per narrative does not;
    - which stance: promote, report, counter or none.

    A sentence's score for a narrative is P(narrative) x (1 - P(stance none)): the narrative model says which
    narrative, the stance model whether the sentence carries one at all. Measured on the development half of the
    gold sets, the second factor removed every false alarm on everyday news at equal macro-F1.
    """

    leaf_ids: list[str]
    emb_weights: np.ndarray  # (L + 1, d), the last row is "none"; the embedding's standardisation is folded in
    emb_bias: np.ndarray  # (L + 1,)
    char_weights: np.ndarray  # (L + 1, V)
    char_bias: np.ndarray  # (L + 1,)
    thresholds: np.ndarray  # (L,)
    stance_emb_weights: np.ndarray  # (S, d)
    stance_emb_bias: np.ndarray  # (S,)
    stance_char_weights: np.ndarray  # (S, V)
    stance_char_bias: np.ndarray  # (S,)
    stances: list[str]
    char: CharFeatures
    meta: dict[str, str]

    def narrative_proba(self, x: np.ndarray, xc: Any) -> np.ndarray:
        """Embeddings (n, d) and char features (n, V) → (n, L) probabilities of each narrative (the rest is "none").

        The product of experts sqrt(p_emb * p_char), renormalised, is the softmax of the mean of the two logits.
        """
        logits = (x @ self.emb_weights.T + self.emb_bias + np.asarray(xc @ self.char_weights.T) + self.char_bias) / 2
        return _softmax(logits)[:, : len(self.leaf_ids)]

    def scores(self, x: np.ndarray, xc: Any) -> tuple[np.ndarray, np.ndarray]:
        """(n, L) narrative scores, compared with `thresholds`, and (n, S) stance probabilities."""
        stance = self.stance_proba(x, xc)
        carries = 1.0 - stance[:, self.stances.index("none")] if "none" in self.stances else 1.0
        return self.narrative_proba(x, xc) * np.reshape(carries, (-1, 1)), stance

    def stance_proba(self, x: np.ndarray, xc: Any) -> np.ndarray:
        """(n, S) stance probabilities: the mean of the two stance heads."""
        return (_softmax(x @ self.stance_emb_weights.T + self.stance_emb_bias)
                + _softmax(np.asarray(xc @ self.stance_char_weights.T) + self.stance_char_bias)) / 2

    @property
    def digest(self) -> str:
        """Identity of these heads (changes when anything trained changes)."""
        h = hashlib.sha256()
        for array in (self.emb_weights, self.char_weights, self.thresholds, self.stance_emb_weights,
                      self.stance_char_weights):
            h.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> None:
        """Write to an .npz file (no pickle), atomically (the temporary name is per process)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        np.savez_compressed(
            tmp, **arrays, leaf_ids=np.array(self.leaf_ids), stances=np.array(self.stances),
            terms=np.asarray(self.char.terms, dtype=str), idf=self.char.idf, meta=np.array(json.dumps(self.meta)),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Heads:
        """Read heads written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                **{name: data[name] for name in _ARRAYS},
                leaf_ids=[str(x) for x in data["leaf_ids"]], stances=[str(x) for x in data["stances"]],
                char=CharFeatures([str(t) for t in data["terms"]], data["idf"]), meta=json.loads(str(data["meta"])),
            )


_ARRAYS = ("emb_weights", "emb_bias", "char_weights", "char_bias", "thresholds", "stance_emb_weights",
           "stance_emb_bias", "stance_char_weights", "stance_char_bias")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_heads(
    x: np.ndarray, data: TrainingSet, leaf_ids: Sequence[str], c_emb: float = 0.05, c_char: float = 100.0,
    threshold: float = THRESHOLD, meta: dict[str, str] | None = None,
) -> Heads:
    """Train the narrative and stance models.

    Args:
        x: (n, d) L2-normalised embeddings of `data.texts`.
        data: labels and stances; a text with two narratives counts once for each.
        leaf_ids: narrative order of the heads.
        c_emb: inverse regularisation of the narrative model on (standardised) embeddings; `c_char` on character
            n-grams. Both, and `threshold`, were chosen on the development half of the gold sets.
    """
    from sklearn.linear_model import LogisticRegression

    none = len(leaf_ids)
    index = {leaf: i for i, leaf in enumerate(leaf_ids)}
    rows: list[int] = []
    y: list[int] = []
    for row, labels in enumerate(data.labels):
        known = [index[label] for label in labels if label in index]
        for label in known or [none]:
            rows.append(row)
            y.append(label)
    rows_array, target = np.array(rows), np.array(y)
    char = CharFeatures()
    xc_all = char.fit_transform(data.texts)
    xc, xe = xc_all[rows_array], x[rows_array]
    mean, scale = xe.mean(axis=0), xe.std(axis=0) + 1e-6
    emb_model = LogisticRegression(C=c_emb, class_weight="balanced", max_iter=5000).fit((xe - mean) / scale, target)
    char_model = LogisticRegression(C=c_char, class_weight="balanced", max_iter=3000).fit(xc, target)
    emb_w, emb_b = _full_classes(emb_model, none + 1)
    char_w, char_b = _full_classes(char_model, none + 1)
    emb_w = emb_w / scale  # standardisation folded into the weights: callers pass raw embeddings
    emb_b = emb_b - emb_w @ mean
    stance_emb = LogisticRegression(C=16.0, class_weight="balanced", max_iter=3000).fit(x, data.stances)
    stance_char = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000).fit(xc_all, data.stances)
    order = [list(stance_emb.classes_).index(s) for s in STANCES if s in stance_emb.classes_]
    order_char = [list(stance_char.classes_).index(s) for s in STANCES if s in stance_char.classes_]
    emb_rows, emb_bias_rows = _per_class(stance_emb)
    char_rows, char_bias_rows = _per_class(stance_char)
    return Heads(
        leaf_ids=list(leaf_ids), emb_weights=emb_w.astype(np.float32), emb_bias=emb_b.astype(np.float32),
        char_weights=char_w.astype(np.float32), char_bias=char_b.astype(np.float32),
        thresholds=np.full(none, threshold, dtype=np.float32),
        stance_emb_weights=emb_rows[order], stance_emb_bias=emb_bias_rows[order],
        stance_char_weights=char_rows[order_char], stance_char_bias=char_bias_rows[order_char],
        stances=[str(stance_emb.classes_[i]) for i in order], char=char, meta=meta or {},
    )


def _full_classes(model: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights and biases for classes 0..n_classes-1; a class without examples gets a bias that never wins."""
    coef, intercept = _per_class(model)
    weights = np.zeros((n_classes, coef.shape[1]), dtype=np.float64)
    bias = np.full(n_classes, -30.0)
    for row, cls in enumerate(model.classes_):
        weights[int(cls)], bias[int(cls)] = coef[row], intercept[row]
    return weights, bias


def _per_class(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """One weight row and bias per class, also for a two-class model (which keeps a single row: [0, w])."""
    coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    if len(model.classes_) == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    return coef, intercept


class NarrativeClassifier:
    """Sentences → embeddings → narratives with evidence, and a document stance."""

    def __init__(
        self, encoder: object, heads: Heads, codebook: Codebook, cache: EmbeddingCache | None = None,
    ) -> None:
        self.encoder = encoder
        self.heads = heads
        self.codebook = codebook
        self.cache: EmbeddingCache = cache or MemoryEmbeddingCache()
        self.model_version = f"{encoder.name}+heads:{heads.digest}"  # type: ignore[attr-defined]
        self.codebook_version = codebook.version_tag

    @property
    def version_tag(self) -> str:
        """What the warehouse stores to know which documents this classifier has labelled."""
        return f"{self.model_version}|{self.codebook_version}"

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings of texts, from the cache where the same text was embedded before."""
        model = self.encoder.name  # type: ignore[attr-defined]
        hashes = [content_hash(t) for t in texts]
        known = self.cache.get(model, list(dict.fromkeys(hashes)))
        missing = list(dict.fromkeys(h for h in hashes if h not in known))
        if missing:
            first_text = {}
            for h, t in zip(hashes, texts, strict=True):
                first_text.setdefault(h, t)
            vectors = self.encoder.encode([first_text[h] for h in missing], batch_size=batch_size)  # type: ignore[attr-defined]
            self.cache.put(model, missing, vectors)
            known.update(zip(missing, vectors, strict=True))
        dim = self.encoder.dim  # type: ignore[attr-defined]
        return np.stack([known[h] for h in hashes]) if hashes else np.zeros((0, dim), dtype=np.float32)

    def classify(
        self, texts: Sequence[str], langs: Sequence[str] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Classification]:
        """Classify documents; each narrative carries the sentence(s) that drove it."""
        del langs  # the encoder is multilingual; language-specific normalisation happens inside it
        sentences_per_doc = [split_sentences(text) for text in texts]
        flat = [s for sentences in sentences_per_doc for s in sentences]
        if flat:
            x, xc = self.embed(flat), self.heads.char.transform(flat)
            proba, stance_proba = self.heads.scores(x, xc)
        else:
            proba, stance_proba = np.zeros((0, len(self.heads.leaf_ids))), np.zeros((0, len(self.heads.stances)))
        results = []
        start = 0
        for sentences in sentences_per_doc:
            end = start + len(sentences)
            results.append(self._document(sentences, proba[start:end], stance_proba[start:end]))
            start = end
            if on_progress:
                on_progress(1)
        return results

    def _document(self, sentences: list[str], proba: np.ndarray, stance_proba: np.ndarray) -> Classification:
        heads = self.heads
        narratives = []
        if len(sentences):
            best = proba.max(axis=0)
            for j in np.flatnonzero(best >= heads.thresholds):
                order = np.argsort(-proba[:, j])
                evidence = [sentences[i] for i in order[:EVIDENCE_PER_LABEL] if proba[i, j] >= heads.thresholds[j]]
                narratives.append(NarrativeScore(id=heads.leaf_ids[j], score=round(float(best[j]), 4), evidence=evidence))
        narratives.sort(key=lambda n: -n.score)
        stance, stance_score = Stance.none, 0.0
        if narratives:
            # The stance of the sentences that carry narratives, weighted by how strongly they carry them.
            weight = (proba * (proba >= heads.thresholds)).max(axis=1)
            pooled = (stance_proba * weight[:, None]).sum(axis=0) / max(weight.sum(), 1e-9)
            candidates = [i for i, s in enumerate(heads.stances) if s != "none"]
            i = max(candidates, key=lambda k: pooled[k])
            stance = Stance(heads.stances[i])
            stance_score = float(pooled[i] / max(pooled[candidates].sum(), 1e-9))
        return Classification(
            stance=stance, stance_score=round(min(stance_score, 1.0), 4), narratives=narratives,
            model_version=self.model_version, codebook_version=self.codebook_version,
        )
