"""The narrative classifier: multilingual sentence embeddings and character n-grams → a narrative model and a
stance model, whose product scores each sentence.

Training data come from the codebook (exemplars of every leaf narrative by stance, hard negatives, unrelated
text, in each language), real background text that carries no narrative (shipped as features, see
`background.py`) and analyst verdicts from the warehouse. Documents are split into sentences; each sentence is
scored (zero when it is out of the codebook's reach), a document carries a narrative when its best sentence
clears a threshold that rises with the document's length, and the sentences over the sentence threshold are the
evidence.
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

from pmon.classifiers.narratives.sentences import split_sentences
from pmon.schemas.codebook import Codebook, Stance
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import content_hash

STANCES: tuple[str, ...] = ("promote", "report", "counter", "none")
#: Settings chosen on development data only (the dev half of eval/narratives, even ids, and the dev part of the
#: real text, `background.split_of`), with the real background in training; the sweep is recorded in
#: docs/narratives-real-text.md. A sentence carries a narrative when its score reaches THRESHOLD: at 0.30 dev
#: macro-F1 0.887 with 0.1% of real sentences flagged, at 0.35 0.879 and 0.1%.
THRESHOLD = 0.30
#: A document of n sentences needs min(DOCUMENT_CAP, threshold + DOCUMENT_SLOPE * ln(n)) from its best sentence:
#: 0.02 lifts a 20-sentence document's bar to 0.36. On dev it cost no gold item and half a point of recall on
#: narrative sentences planted in real documents; it guards against long real articles from unseen sources.
DOCUMENT_SLOPE = 0.02
DOCUMENT_CAP = 0.9
#: Cosine to the nearest narrative exemplar below which a sentence is out of the codebook's reach. e5's cosines
#: are compressed: the dev gold narratives' 1st percentile is 0.873, real sentences' median 0.878, so this floor
#: only removes text far from every exemplar (about a quarter of real sentences), never a dev gold item.
OOD_FLOOR = 0.85
#: Each real background sentence weighs this much of a codebook "none" example: 1.0 flagged no real dev text
#: but cost 3 points of gold macro-F1 (Tajik most); 0.1 kept gold but flagged 4% of real dev documents.
BACKGROUND_WEIGHT = 0.3
EVIDENCE_PER_LABEL = 2


@dataclass
class TrainingSet:
    """Texts with multi-hot leaf labels, a stance and a weight each."""

    texts: list[str] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)
    stances: list[str] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, text: str, labels: list[str], stance: str, lang: str, weight: float = 1.0) -> None:
        """Append one example (`weight`: how much it counts against one codebook exemplar)."""
        self.texts.append(text)
        self.labels.append(labels)
        self.stances.append(stance)
        self.langs.append(lang)
        self.weights.append(weight)

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
    (names, Tajik ҷ, Pashto letters, transliterated Latin Uyghur).

    The n-grams are hashed into a fixed number of columns rather than kept in a vocabulary: the real background
    text the models learn "none" from is shipped as hashed n-gram counts (never as text), and hashing makes those
    counts line up with whatever codebook they are trained with. Only the idf is fitted.
    """

    N_FEATURES = 2**18

    def __init__(self, idf: np.ndarray | None = None) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        self.hasher = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), n_features=self.N_FEATURES, alternate_sign=False, norm=None,
            dtype=np.float32,
        )
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        if idf is not None:
            self.tfidf.idf_ = np.asarray(idf, dtype=np.float32)

    @property
    def idf(self) -> np.ndarray:
        """The fitted inverse document frequencies, one per column."""
        return np.asarray(self.tfidf.idf_, dtype=np.float32)

    def counts(self, texts: Sequence[str]) -> Any:
        """(n, N_FEATURES) sparse raw n-gram counts."""
        return self.hasher.transform(texts)

    def fit(self, counts: Any) -> CharFeatures:
        """Learn the idf from count rows (the codebook's texts and the background's shipped counts)."""
        self.tfidf.fit(counts)
        return self

    def weigh(self, counts: Any) -> Any:
        """Counts → sublinear TF-IDF rows, L2-normalised."""
        return self.tfidf.transform(counts)

    def transform(self, texts: Sequence[str]) -> Any:
        """(n, N_FEATURES) sparse TF-IDF rows."""
        return self.weigh(self.counts(texts))


@dataclass
class Background:
    """Real text that carries no narrative, as features only: embeddings (fp16) and hashed n-gram counts.

    It is the "none" side the codebook's synthetic negatives cannot give: news, web and literature written by
    people. Built from ../shared/data/realtext by `pmon.classifiers.narratives.background.build_background` and shipped
    with the package (no text, see background/README.md).
    """

    embeddings: np.ndarray  # (n, d) float16
    counts: Any  # (n, CharFeatures.N_FEATURES) sparse n-gram counts
    langs: np.ndarray  # (n,) language of each row

    def __len__(self) -> int:
        return len(self.langs)


@dataclass
class Heads:
    """The trained part, two models of two kinds each (one on the sentence embedding, one on character n-grams):

    - which narrative: a softmax over the leaf narratives plus "none", the two kinds combined as a product of
      experts. One softmax with a "none" class makes the narratives compete with each other and with everyday
      text, which a yes/no head per narrative does not;
    - which stance: promote, report, counter or none.

    A sentence's score for a narrative is P(narrative) x (1 - P(stance none)): the narrative model says which
    narrative, the stance model whether the sentence carries one at all. A sentence far from every narrative
    exemplar of the codebook (cosine to the nearest below `ood_floor`) scores 0 whatever the softmax says: a
    closed set of narratives must not pull unrelated text into one of them. A document of n sentences carries a
    narrative when its best sentence reaches `document_threshold(n)`, which rises with log(n): with more
    sentences, more chances of a high score by chance.
    """

    leaf_ids: list[str]
    emb_weights: np.ndarray  # (L + 1, d), the last row is "none"; the embedding's standardisation is folded in
    emb_bias: np.ndarray  # (L + 1,)
    char_weights: np.ndarray  # (L + 1, V)
    char_bias: np.ndarray  # (L + 1,)
    thresholds: np.ndarray  # (L,) per sentence
    stance_emb_weights: np.ndarray  # (S, d)
    stance_emb_bias: np.ndarray  # (S,)
    stance_char_weights: np.ndarray  # (S, V)
    stance_char_bias: np.ndarray  # (S,)
    exemplars: np.ndarray  # (E, d) the codebook's narrative exemplars (promote, report, counter); fp16 on disk
    document_rule: np.ndarray  # [slope, cap]: a document's threshold is min(cap, threshold + slope * ln(n))
    ood_floor: np.ndarray  # [cosine]: below it, a sentence is out of the codebook's reach
    stances: list[str]
    char: CharFeatures
    meta: dict[str, str]

    def __post_init__(self) -> None:
        self.exemplars = np.asarray(self.exemplars, dtype=np.float32)  # once, not on every classify call

    def narrative_proba(self, x: np.ndarray, xc: Any) -> np.ndarray:
        """Embeddings (n, d) and char features (n, V) → (n, L) probabilities of each narrative (the rest is "none").

        The product of experts sqrt(p_emb * p_char), renormalised, is the softmax of the mean of the two logits.
        """
        logits = (x @ self.emb_weights.T + self.emb_bias + np.asarray(xc @ self.char_weights.T) + self.char_bias) / 2
        return _softmax(logits)[:, : len(self.leaf_ids)]

    def nearest_exemplar(self, x: np.ndarray) -> np.ndarray:
        """(n,) cosine of each embedding to its nearest narrative exemplar (rows are L2-normalised)."""
        if not len(self.exemplars) or not len(x):
            return np.ones(len(x), dtype=np.float32)
        nearest = np.full(len(x), -1.0, dtype=np.float32)
        for start in range(0, len(x), 1024):  # bounded memory for long batches
            nearest[start:start + 1024] = (x[start:start + 1024] @ self.exemplars.T).max(axis=1)
        return nearest

    def scores(self, x: np.ndarray, xc: Any) -> tuple[np.ndarray, np.ndarray]:
        """(n, L) narrative scores, compared with `thresholds`, and (n, S) stance probabilities."""
        stance = self.stance_proba(x, xc)
        carries = 1.0 - stance[:, self.stances.index("none")] if "none" in self.stances else 1.0
        scores = self.narrative_proba(x, xc) * np.reshape(carries, (-1, 1))
        scores[self.nearest_exemplar(x) < float(self.ood_floor[0])] = 0.0
        return scores, stance

    def document_threshold(self, n_sentences: int) -> np.ndarray:
        """(L,) thresholds for a document's best sentence, given how many sentences it has."""
        slope, cap = (float(v) for v in self.document_rule)
        raised = self.thresholds + slope * np.log(max(n_sentences, 1))
        limits: np.ndarray = np.minimum(raised, np.maximum(cap, self.thresholds)).astype(np.float32)
        return limits

    def stance_proba(self, x: np.ndarray, xc: Any) -> np.ndarray:
        """(n, S) stance probabilities: the mean of the two stance heads."""
        proba: np.ndarray = (_softmax(x @ self.stance_emb_weights.T + self.stance_emb_bias)
                             + _softmax(np.asarray(xc @ self.stance_char_weights.T) + self.stance_char_bias)) / 2
        return proba

    @property
    def digest(self) -> str:
        """Identity of these heads (changes when anything trained or chosen changes)."""
        h = hashlib.sha256()
        for array in (self.emb_weights, self.char_weights, self.thresholds, self.stance_emb_weights,
                      self.stance_char_weights, self.document_rule, self.ood_floor):
            h.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return h.hexdigest()[:12]

    def save(self, path: Path) -> None:
        """Write to an .npz file (no pickle), atomically (the temporary name is per process)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        arrays = {name: getattr(self, name) for name in _ARRAYS} | {"exemplars": self.exemplars.astype(np.float16)}
        np.savez_compressed(
            tmp, **arrays, leaf_ids=np.array(self.leaf_ids), stances=np.array(self.stances),
            idf=self.char.idf, meta=np.array(json.dumps(self.meta)), format=np.array(HEADS_FORMAT),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Heads:
        """Read heads written by `save`.

        Raises:
            ValueError: heads written by an older version of pmon (train them again).
        """
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data or int(data["format"]) != HEADS_FORMAT:
                raise ValueError(f"{path} holds heads of an older format; run `pmon train` again")
            return cls(
                **{name: data[name] for name in _ARRAYS},
                leaf_ids=[str(x) for x in data["leaf_ids"]], stances=[str(x) for x in data["stances"]],
                char=CharFeatures(data["idf"]), meta=json.loads(str(data["meta"])),
            )


#: Bump when the layout of saved heads changes, so heads written by older code are not read.
HEADS_FORMAT = 4
_ARRAYS = ("emb_weights", "emb_bias", "char_weights", "char_bias", "thresholds", "stance_emb_weights",
           "stance_emb_bias", "stance_char_weights", "stance_char_bias", "exemplars", "document_rule", "ood_floor")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    proba: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return proba


@dataclass(frozen=True)
class Settings:
    """The classifier's settings. Chosen on development data only: the dev half of eval/narratives (even ids) and
    the dev part of the real text (classifiers/narratives/background.py: `split_of`); never on the test parts."""

    threshold: float = THRESHOLD
    c_emb: float = 0.05
    c_char: float = 100.0
    background_weight: float = BACKGROUND_WEIGHT
    document_slope: float = DOCUMENT_SLOPE
    document_cap: float = DOCUMENT_CAP
    ood_floor: float = OOD_FLOOR


def fit_heads(
    x: np.ndarray, data: TrainingSet, leaf_ids: Sequence[str], settings: Settings | None = None,
    background: Background | None = None, meta: dict[str, str] | None = None,
) -> Heads:
    """Train the narrative and stance models.

    Args:
        x: (n, d) L2-normalised embeddings of `data.texts`.
        data: labels and stances; a text with two narratives counts once for each.
        leaf_ids: narrative order of the heads.
        settings: regularisation, thresholds, document rule and out-of-reach floor (default: `Settings()`).
        background: real text without narratives, as features: "none" for both models.
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    settings = settings or Settings()
    none = len(leaf_ids)
    index = {leaf: i for i, leaf in enumerate(leaf_ids)}
    rows: list[int] = []
    y: list[int] = []
    for row, labels in enumerate(data.labels):
        known = [index[label] for label in labels if label in index]
        for label in known or [none]:
            rows.append(row)
            y.append(label)
    char = CharFeatures()
    counts = char.counts(data.texts)
    stances = list(data.stances)
    n_own = len(data.texts)
    n_background = len(background) if background is not None else 0
    if background is not None and n_background:
        x = np.vstack([x, background.embeddings.astype(np.float32)])
        counts = sparse.vstack([counts, background.counts]).tocsr()
        rows += list(range(n_own, n_own + n_background))
        y += [none] * n_background
        stances += ["none"] * n_background
    xc_all = char.fit(counts).weigh(counts)
    rows_array, target = np.array(rows), np.array(y)
    is_background = rows_array >= n_own
    own_weight = np.asarray(data.weights or [1.0] * n_own, dtype=np.float64)
    weight = _class_balanced(target, is_background, settings.background_weight)
    weight[~is_background] *= own_weight[rows_array[~is_background]]
    xe = x[rows_array]
    mean, scale = xe.mean(axis=0), xe.std(axis=0) + 1e-6
    emb_model = LogisticRegression(C=settings.c_emb, max_iter=5000).fit(
        (xe - mean) / scale, target, sample_weight=weight
    )
    char_model = LogisticRegression(C=settings.c_char, max_iter=3000).fit(
        xc_all[rows_array], target, sample_weight=weight
    )
    emb_w, emb_b = _full_classes(emb_model, none + 1)
    char_w, char_b = _full_classes(char_model, none + 1)
    emb_w = emb_w / scale  # standardisation folded into the weights: callers pass raw embeddings
    emb_b = emb_b - emb_w @ mean
    stance_target = np.array(stances)
    stance_weight = _class_balanced(stance_target, np.arange(len(stances)) >= n_own, settings.background_weight)
    stance_weight[:n_own] *= own_weight
    stance_emb = LogisticRegression(C=16.0, max_iter=3000).fit(x, stance_target, sample_weight=stance_weight)
    stance_char = LogisticRegression(C=10.0, max_iter=3000).fit(xc_all, stance_target, sample_weight=stance_weight)
    order = [list(stance_emb.classes_).index(s) for s in STANCES if s in stance_emb.classes_]
    order_char = [list(stance_char.classes_).index(s) for s in STANCES if s in stance_char.classes_]
    emb_rows, emb_bias_rows = _per_class(stance_emb)
    char_rows, char_bias_rows = _per_class(stance_char)
    carries = np.array([s != "none" for s in data.stances], dtype=bool)
    return Heads(
        leaf_ids=list(leaf_ids), emb_weights=emb_w.astype(np.float32), emb_bias=emb_b.astype(np.float32),
        char_weights=char_w.astype(np.float32), char_bias=char_b.astype(np.float32),
        thresholds=np.full(none, settings.threshold, dtype=np.float32),
        stance_emb_weights=emb_rows[order], stance_emb_bias=emb_bias_rows[order],
        stance_char_weights=char_rows[order_char], stance_char_bias=char_bias_rows[order_char],
        exemplars=x[:n_own][carries],
        document_rule=np.array([settings.document_slope, settings.document_cap], dtype=np.float32),
        ood_floor=np.array([settings.ood_floor], dtype=np.float32),
        stances=[str(stance_emb.classes_[i]) for i in order], char=char,
        meta={**(meta or {}), "background_rows": str(n_background)},
    )


def _class_balanced(target: np.ndarray, is_background: np.ndarray, background_weight: float) -> np.ndarray:
    """Per-row weights: classes balanced (as scikit-learn's "balanced") over the codebook's examples, and each
    real background row `background_weight` times a codebook example of the "none" class on top.

    Balancing over the codebook only keeps the narratives' weights what they were; the real rows add to "none"
    instead of diluting the codebook's own negatives.
    """
    weight = np.ones(len(target), dtype=np.float64)
    own = ~is_background
    classes, counts = np.unique(target[own], return_counts=True)
    per_class = dict(zip(classes.tolist(), (own.sum() / (len(classes) * counts)).tolist(), strict=True))
    for cls, w in per_class.items():
        weight[own & (target == cls)] = w
    if is_background.any():
        none_weight = per_class.get(target[is_background][0], 1.0)
        weight[is_background] = background_weight * none_weight
    return weight


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
            first_text: dict[str, str] = {}
            for h, t in zip(hashes, texts, strict=True):
                first_text.setdefault(h, t)
            vectors = self.encoder.encode([first_text[h] for h in missing], batch_size=batch_size)  # type: ignore[attr-defined]
            self.cache.put(model, missing, vectors)
            known.update(zip(missing, vectors, strict=True))
        dim = self.encoder.dim  # type: ignore[attr-defined]
        return np.stack([known[h] for h in hashes]) if hashes else np.zeros((0, dim), dtype=np.float32)

    def classify(self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None) -> list[Classification]:
        """Classify documents; each narrative carries the sentence(s) that drove it (in any language: the encoder is
        multilingual and normalises each script itself)."""
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
        detected = np.zeros(len(heads.leaf_ids), dtype=bool)
        if len(sentences):
            best = proba.max(axis=0)
            detected = best >= heads.document_threshold(len(sentences))
            for j in np.flatnonzero(detected):
                order = np.argsort(-proba[:, j])
                evidence = [sentences[i] for i in order[:EVIDENCE_PER_LABEL] if proba[i, j] >= heads.thresholds[j]]
                narratives.append(
                    NarrativeScore(id=heads.leaf_ids[j], score=round(float(best[j]), 4), evidence=evidence)
                )
        narratives.sort(key=lambda n: -n.score)
        stance, stance_score = Stance.none, 0.0
        if narratives:
            # The stance of the sentences that carry narratives, weighted by how strongly they carry them.
            weight = (proba * ((proba >= heads.thresholds) & detected)).max(axis=1)
            pooled = (stance_proba * weight[:, None]).sum(axis=0) / max(weight.sum(), 1e-9)
            candidates = [i for i, s in enumerate(heads.stances) if s != "none"]
            i = max(candidates, key=lambda k: pooled[k])
            stance = Stance(heads.stances[i])
            stance_score = float(pooled[i] / max(pooled[candidates].sum(), 1e-9))
        return Classification(
            stance=stance, stance_score=round(min(stance_score, 1.0), 4), narratives=narratives,
            model_version=self.model_version, codebook_version=self.codebook_version,
        )
