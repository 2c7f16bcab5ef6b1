"""The narrative classifier: multilingual sentence embeddings + calibrated per-narrative heads + a stance head.

Training data come from the codebook (exemplars of every leaf narrative by stance, hard negatives, unrelated
text, in each language) plus analyst labels from the warehouse. Documents are split into sentences; each
sentence is scored, a document's score for a narrative is its best sentence's, and the sentences over the
threshold are the evidence.
"""

from __future__ import annotations

import hashlib
import json
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
#: A narrative's threshold never goes below this, so noise never becomes a detection.
MIN_THRESHOLD = 0.2
#: Out-of-fold share of narrative-free exemplars one narrative's threshold may let through.
MAX_FALSE_ALARM = 0.002
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

    def __init__(self, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._store: dict[tuple[str, str], np.ndarray] = {}

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors known for these hashes."""
        return {h: self._store[(model, h)] for h in hashes if (model, h) in self._store}

    def put(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Remember vectors, forgetting the oldest past `max_items`."""
        for h, v in zip(hashes, vectors, strict=True):
            self._store[(model, h)] = v
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
    """The trained part: per narrative, a logistic head on the embedding and one on character n-grams, combined by
    geometric mean and Platt-calibrated, with a threshold each; a stance head of both kinds too."""

    leaf_ids: list[str]
    emb_weights: np.ndarray  # (L, d)
    emb_bias: np.ndarray  # (L,)
    char_weights: np.ndarray  # (L, V)
    char_bias: np.ndarray  # (L,)
    platt: np.ndarray  # (L, 2): p = sigmoid(a * logit(sqrt(p_emb * p_char)) + b)
    thresholds: np.ndarray  # (L,)
    stance_emb_weights: np.ndarray  # (S, d)
    stance_emb_bias: np.ndarray  # (S,)
    stance_char_weights: np.ndarray  # (S, V)
    stance_char_bias: np.ndarray  # (S,)
    stances: list[str]
    char: CharFeatures
    meta: dict[str, str]

    def narrative_proba(self, x: np.ndarray, xc: Any) -> np.ndarray:
        """Embeddings (n, d) and char features (n, V) → (n, L) calibrated probabilities."""
        p_emb = _sigmoid(x @ self.emb_weights.T + self.emb_bias)
        p_char = _sigmoid(np.asarray(xc @ self.char_weights.T) + self.char_bias)
        return _calibrate(np.sqrt(p_emb * p_char), self.platt)

    def stance_proba(self, x: np.ndarray, xc: Any) -> np.ndarray:
        """(n, S) stance probabilities: the mean of the two stance heads."""
        return (_softmax(x @ self.stance_emb_weights.T + self.stance_emb_bias)
                + _softmax(np.asarray(xc @ self.stance_char_weights.T) + self.stance_char_bias)) / 2

    @property
    def digest(self) -> str:
        """Identity of these heads (changes when anything trained changes)."""
        h = hashlib.sha256()
        for array in (self.emb_weights, self.char_weights, self.platt, self.thresholds, self.stance_emb_weights,
                      self.stance_char_weights):
            h.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> None:
        """Write to an .npz file (no pickle), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
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


_ARRAYS = ("emb_weights", "emb_bias", "char_weights", "char_bias", "platt", "thresholds", "stance_emb_weights",
           "stance_emb_bias", "stance_char_weights", "stance_char_bias")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _calibrate(p: np.ndarray, platt: np.ndarray) -> np.ndarray:
    return _sigmoid(_logit(p) * platt[:, 0] + platt[:, 1])


def fit_heads(
    x: np.ndarray, data: TrainingSet, leaf_ids: Sequence[str], folds: int = 4, seed: int = 0,
    c_emb: float = 16.0, c_char: float = 10.0, meta: dict[str, str] | None = None,
) -> Heads:
    """Train the heads, calibrate them and choose thresholds on out-of-fold predictions (held-out exemplars).

    Args:
        x: (n, d) L2-normalised embeddings of `data.texts`.
        data: labels and stances.
        leaf_ids: narrative order of the heads.
        folds: cross-validation folds for calibration and thresholds.
        c_emb: inverse regularisation of the embedding heads; `c_char` of the character n-gram heads.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    def logistic(c: float, sparse: bool) -> LogisticRegression:
        return LogisticRegression(C=c, class_weight="balanced", max_iter=3000, solver="liblinear" if sparse else "lbfgs")

    char = CharFeatures()
    xc = char.fit_transform(data.texts)
    y = data.matrix(leaf_ids)
    n_labels = len(leaf_ids)
    emb_w = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    char_w = np.zeros((n_labels, xc.shape[1]), dtype=np.float32)
    emb_b = np.full(n_labels, -10.0, dtype=np.float32)  # a narrative without exemplars never fires
    char_b = np.full(n_labels, -10.0, dtype=np.float32)
    platt = np.tile(np.array([1.0, 0.0], dtype=np.float32), (n_labels, 1))
    thresholds = np.full(n_labels, 0.99, dtype=np.float32)
    none_rows = np.array([not labels for labels in data.labels])
    for j in range(n_labels):
        target = y[:, j]
        if target.sum() < folds:
            continue
        emb_model = logistic(c_emb, False).fit(x, target)
        char_model = logistic(c_char, True).fit(xc, target)
        emb_w[j], emb_b[j] = emb_model.coef_[0], emb_model.intercept_[0]
        char_w[j], char_b[j] = char_model.coef_[0], char_model.intercept_[0]
        # Out-of-fold: how the combined head scores texts it was not trained on.
        oof = np.zeros(len(target))
        for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, target):
            pe = logistic(c_emb, False).fit(x[train], target[train]).predict_proba(x[test])[:, 1]
            pc = logistic(c_char, True).fit(xc[train], target[train]).predict_proba(xc[test])[:, 1]
            oof[test] = np.sqrt(pe * pc)
        calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(_logit(oof).reshape(-1, 1), target)
        platt[j] = (calibrator.coef_[0, 0], calibrator.intercept_[0])
        thresholds[j] = _choose_threshold(_calibrate(oof[:, None], platt[j : j + 1])[:, 0], target, none_rows)
    stance_emb = LogisticRegression(C=c_emb, class_weight="balanced", max_iter=3000).fit(x, data.stances)
    stance_char = LogisticRegression(C=c_char, class_weight="balanced", max_iter=3000).fit(xc, data.stances)
    order = [list(stance_emb.classes_).index(s) for s in STANCES if s in stance_emb.classes_]
    order_char = [list(stance_char.classes_).index(s) for s in STANCES if s in stance_char.classes_]
    emb_rows, emb_bias_rows = _per_class(stance_emb)
    char_rows, char_bias_rows = _per_class(stance_char)
    return Heads(
        leaf_ids=list(leaf_ids), emb_weights=emb_w, emb_bias=emb_b, char_weights=char_w, char_bias=char_b,
        platt=platt, thresholds=thresholds,
        stance_emb_weights=emb_rows[order], stance_emb_bias=emb_bias_rows[order],
        stance_char_weights=char_rows[order_char], stance_char_bias=char_bias_rows[order_char],
        stances=[str(stance_emb.classes_[i]) for i in order], char=char, meta=meta or {},
    )


def _per_class(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """One weight row and bias per class, also for a two-class model (which keeps a single row: [0, w])."""
    coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    if len(model.classes_) == 2:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    return coef, intercept


def _choose_threshold(proba: np.ndarray, target: np.ndarray, none_rows: np.ndarray) -> float:
    """Best out-of-fold F1 among thresholds that let at most MAX_FALSE_ALARM of narrative-free texts through.

    The bound is per narrative and there are 14 of them, so it is kept far below the 2% the whole document may
    cost: held-out everyday news is harder than the exemplars' own negatives.
    """
    best, best_f1 = 0.95, -1.0
    negatives = proba[none_rows]
    for t in np.arange(MIN_THRESHOLD, 0.96, 0.01):
        predicted = proba >= t
        tp = int((predicted & (target == 1)).sum())
        fp = int((predicted & (target == 0)).sum())
        fn = int((~predicted & (target == 1)).sum())
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        false_alarm = float((negatives >= t).mean()) if len(negatives) else 0.0
        if false_alarm <= MAX_FALSE_ALARM and f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), f1
    return best


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
            proba, stance_proba = self.heads.narrative_proba(x, xc), self.heads.stance_proba(x, xc)
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
