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

import numpy as np

from classifiers.narratives.sentences import split_sentences
from schemas.codebook import Codebook, Stance
from schemas.detections import Classification, NarrativeScore
from schemas.documents import content_hash

STANCES: tuple[str, ...] = ("promote", "report", "counter", "none")
#: A narrative's threshold never goes below this, so noise never becomes a detection.
MIN_THRESHOLD = 0.35
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


@dataclass
class Heads:
    """The trained part: linear per-narrative heads with Platt calibration, thresholds, and a stance head."""

    leaf_ids: list[str]
    weights: np.ndarray  # (L, d)
    bias: np.ndarray  # (L,)
    platt: np.ndarray  # (L, 2): calibrated p = sigmoid(a * logit + b)
    thresholds: np.ndarray  # (L,)
    stance_weights: np.ndarray  # (S, d)
    stance_bias: np.ndarray  # (S,)
    stances: list[str]
    meta: dict[str, str]

    def narrative_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, d) embeddings → (n, L) calibrated probabilities."""
        logits = x @ self.weights.T + self.bias
        return _sigmoid(logits * self.platt[:, 0] + self.platt[:, 1])

    def stance_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, d) embeddings → (n, S) stance probabilities."""
        z = x @ self.stance_weights.T + self.stance_bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @property
    def digest(self) -> str:
        """Identity of these heads (changes when anything trained changes)."""
        h = hashlib.sha256()
        for array in (self.weights, self.bias, self.platt, self.thresholds, self.stance_weights, self.stance_bias):
            h.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> None:
        """Write to an .npz file (no pickle), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp, weights=self.weights, bias=self.bias, platt=self.platt, thresholds=self.thresholds,
            stance_weights=self.stance_weights, stance_bias=self.stance_bias,
            leaf_ids=np.array(self.leaf_ids), stances=np.array(self.stances), meta=np.array(json.dumps(self.meta)),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Heads:
        """Read heads written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                leaf_ids=[str(x) for x in data["leaf_ids"]], weights=data["weights"], bias=data["bias"],
                platt=data["platt"], thresholds=data["thresholds"], stance_weights=data["stance_weights"],
                stance_bias=data["stance_bias"], stances=[str(x) for x in data["stances"]],
                meta=json.loads(str(data["meta"])),
            )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fit_heads(
    x: np.ndarray, data: TrainingSet, leaf_ids: Sequence[str], folds: int = 5, seed: int = 0,
    c: float = 4.0, meta: dict[str, str] | None = None,
) -> Heads:
    """Train per-narrative logistic heads, calibrate them and choose thresholds on out-of-fold predictions.

    Args:
        x: (n, d) L2-normalised embeddings of `data.texts`.
        data: labels and stances.
        leaf_ids: narrative order of the heads.
        folds: cross-validation folds for calibration and thresholds (held-out exemplars).
        c: inverse regularisation strength of the logistic heads.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = data.matrix(leaf_ids)
    n_labels, dim = len(leaf_ids), x.shape[1]
    weights = np.zeros((n_labels, dim), dtype=np.float32)
    bias = np.zeros(n_labels, dtype=np.float32)
    platt = np.tile(np.array([1.0, 0.0], dtype=np.float32), (n_labels, 1))
    thresholds = np.full(n_labels, 0.5, dtype=np.float32)
    none_rows = np.array([not labels for labels in data.labels])
    for j in range(n_labels):
        target = y[:, j]
        if target.sum() < 2:
            bias[j] = -10.0  # a narrative without exemplars never fires
            continue
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        model.fit(x, target)
        weights[j], bias[j] = model.coef_[0], model.intercept_[0]
        # Out-of-fold logits: how the head scores texts it was not trained on.
        oof = np.zeros(len(target))
        splitter = StratifiedKFold(n_splits=min(folds, int(target.sum())), shuffle=True, random_state=seed)
        for train, test in splitter.split(x, target):
            fold = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x[train], target[train])
            oof[test] = fold.decision_function(x[test])
        calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(oof.reshape(-1, 1), target)
        platt[j] = (calibrator.coef_[0, 0], calibrator.intercept_[0])
        proba = _sigmoid(oof * platt[j, 0] + platt[j, 1])
        thresholds[j] = _choose_threshold(proba, target, none_rows)
    stance_model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    stance_model.fit(x, data.stances)
    order = [list(stance_model.classes_).index(s) for s in STANCES if s in stance_model.classes_]
    return Heads(
        leaf_ids=list(leaf_ids), weights=weights, bias=bias, platt=platt, thresholds=thresholds,
        stance_weights=stance_model.coef_[order].astype(np.float32),
        stance_bias=stance_model.intercept_[order].astype(np.float32),
        stances=[str(stance_model.classes_[i]) for i in order], meta=meta or {},
    )


def _choose_threshold(proba: np.ndarray, target: np.ndarray, none_rows: np.ndarray) -> float:
    """Best out-of-fold F1, but never a threshold that lets more than 1% of narrative-free texts through."""
    best, best_f1 = 0.5, -1.0
    negatives = proba[none_rows]
    for t in np.arange(MIN_THRESHOLD, 0.96, 0.01):
        predicted = proba >= t
        tp = int((predicted & (target == 1)).sum())
        fp = int((predicted & (target == 0)).sum())
        fn = int((~predicted & (target == 1)).sum())
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        false_alarm = float((negatives >= t).mean()) if len(negatives) else 0.0
        if false_alarm <= 0.01 and f1 > best_f1 + 1e-9:
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
        x = self.embed(flat)
        proba = self.heads.narrative_proba(x) if len(flat) else np.zeros((0, len(self.heads.leaf_ids)))
        stance_proba = self.heads.stance_proba(x) if len(flat) else np.zeros((0, len(self.heads.stances)))
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
