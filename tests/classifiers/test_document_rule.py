"""The parts of the narrative classifier that decide, independent of the encoder: the document rule (a longer
document needs a stronger best sentence), the out-of-reach check, real-text false-alarm reports and the shipped
background.

These tests use a stand-in encoder (fixed vectors per word) on purpose: the rules under test act on whatever
vectors they are given, and a toy geometry makes the expected decision exact. The real encoder and codebook are
exercised in test_narrative_cli.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pmon.classifiers.narratives import NarrativeClassifier, Settings, TrainingSet, fit_heads
from pmon.classifiers.narratives.background import (
    DEFAULT_BACKGROUND,
    background_texts,
    build_background,
    load_background,
    real_items,
    split_of,
)
from pmon.classifiers.narratives.evaluate import evaluate, read_gold, split_gold
from pmon.classifiers.narratives.model import CharFeatures
from pmon.schemas.codebook import DEFAULT_CODEBOOK, load_codebook

DIM = 8
# Direction 0 is the narrative's, 1 is everyday news; 7 is far from everything the toy codebook holds.
_WORDS = {"claim": 0, "market": 1, "weather": 1, "poem": 7}


class ToyEncoder:
    """Each text's vector is the normalised sum of its words' directions (plus a little noise per text)."""

    name = "toy"
    dim = DIM

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        rows = []
        for text in texts:
            vector = np.zeros(DIM)
            for word in text.lower().replace(".", " ").replace(",", " ").split():
                if word in _WORDS:
                    vector[_WORDS[word]] += 1.0
            seed = sum(map(ord, text)) % 1000
            vector += np.random.default_rng(seed).normal(scale=0.05, size=DIM)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32)


def _toy_classifier(**settings: float) -> NarrativeClassifier:
    data = TrainingSet()
    for i in range(30):
        data.add(f"claim claim number {i}.", ["a"], "promote", "en")
        data.add(f"market weather number {i}.", [], "none", "en")
    encoder = ToyEncoder()
    settings = {"document_slope": 0.0, "ood_floor": 0.0, **settings}  # each test turns on the rule it tests
    heads = fit_heads(encoder.encode(data.texts), data, ["a"], settings=Settings(**settings))
    return NarrativeClassifier(encoder, heads, load_codebook(DEFAULT_CODEBOOK))


def test_document_threshold_rises_with_length_up_to_its_cap() -> None:
    heads = _toy_classifier(threshold=0.4, document_slope=0.1, document_cap=0.8).heads
    assert heads.document_threshold(1)[0] == pytest.approx(0.4)
    assert heads.document_threshold(10)[0] == pytest.approx(0.4 + 0.1 * np.log(10), abs=1e-6)
    assert heads.document_threshold(10**6)[0] == pytest.approx(0.8)
    # A cap below the sentence threshold never lowers it.
    low_cap = _toy_classifier(threshold=0.6, document_slope=0.1, document_cap=0.5).heads
    assert low_cap.document_threshold(50)[0] == pytest.approx(0.6)


def test_a_long_document_needs_a_stronger_best_sentence_and_keeps_its_evidence() -> None:
    classifier = _toy_classifier(threshold=0.3, document_slope=0.0)
    # A weak narrative sentence: over the sentence threshold, not far over it.
    narrative = "claim claim market, said the valley council."
    score = classifier.classify([narrative])[0]
    assert [n.id for n in score.narratives] == ["a"]
    weak = score.narratives[0].score
    filler = [f"market weather report for the valley, issue {i}." for i in range(19)]
    document = " ".join([*filler[:9], narrative, *filler[9:]])
    # Without the rule the document is flagged like the sentence, with the narrative sentence as evidence.
    flagged = classifier.classify([document])[0]
    assert [n.id for n in flagged.narratives] == ["a"] and flagged.narratives[0].evidence == [narrative]
    # With a slope that lifts a 20-sentence document's threshold above that score, the same document is not.
    slope = (weak - 0.3) / np.log(20) + 0.01
    strict = _toy_classifier(threshold=0.3, document_slope=slope, document_cap=0.99)
    assert strict.classify([narrative])[0].narratives  # one sentence: the sentence threshold
    assert strict.classify([document])[0].narratives == []
    # A strong narrative sentence still carries the long document, and it is the evidence.
    strong = "claim claim claim, said the valley council."
    result = strict.classify([" ".join([*filler[:9], strong, *filler[9:]])])[0]
    assert [n.id for n in result.narratives] == ["a"] and result.narratives[0].evidence == [strong]
    assert result.stance.value == "promote"


def test_text_out_of_the_codebooks_reach_is_none_whatever_the_softmax_says() -> None:
    open_set = _toy_classifier(threshold=0.3)
    closed = _toy_classifier(threshold=0.3, ood_floor=0.8)
    poem = "claim poem, wrote the valley council."  # half in a direction no exemplar has; the softmax still says "a"
    assert open_set.heads.nearest_exemplar(open_set.embed([poem]))[0] < 0.8
    assert [n.id for n in open_set.classify([poem])[0].narratives] == ["a"]
    assert closed.classify([poem])[0].narratives == []
    assert [n.id for n in closed.classify(["claim claim claim, said the valley council."])[0].narratives] == ["a"]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_real_text_report_counts_false_alarms_by_language_kind_genre_and_topic(tmp_path: Path) -> None:
    real = [
        {"id": "r-1", "text": "market weather today.", "lang": "en", "kind": "sentence", "genre": "news",
         "topic": "general"},
        {"id": "r-2", "text": "claim claim claim.", "lang": "en", "kind": "sentence", "genre": "news",
         "topic": "on-topic"},
        {"id": "r-3", "text": "market weather. market again.", "lang": "fa", "variety": "prs", "kind": "document",
         "genre": "web", "topic": "on-topic"},
        {"id": "r-4", "text": "weather market news.", "lang": "fa", "variety": "pes", "kind": "sentence",
         "genre": "web"},
    ]
    gold = [{"id": "g-1", "text": "claim claim here.", "lang": "en", "labels": ["a"], "stance": "promote"}]
    rows = read_gold([_write_jsonl(tmp_path / "real.jsonl", real), _write_jsonl(tmp_path / "gold.jsonl", gold)])
    assert [bool(r.get("real")) for r in rows] == [True, True, True, True, False]
    report = evaluate(_toy_classifier(threshold=0.3), rows)
    assert report["items"] == 1 and report["macro_f1"] == 1.0  # gold figures count gold items only
    text = report["real_text"]
    assert text["overall"]["items"] == 4 and text["overall"]["any"] == 1 and text["overall"]["promote"] == 1
    assert text["per_language"]["en"]["any_rate"] == 0.5 and text["per_language"]["fa-prs"]["any"] == 0
    assert set(text["per_language"]) == {"en", "fa-prs", "fa-pes"}
    assert text["per_kind"]["document"]["items"] == 1 and text["per_topic_kind"]["on-topic sentence"]["any"] == 1
    assert text["per_genre"]["web"]["items"] == 2 and text["per_narrative"] == {"a": 1}
    # "0 of 2" is an upper bound, not zero.
    assert text["per_language"]["fa-prs"]["any_upper95"] == pytest.approx(0.95, abs=1e-3)  # 0 of 1
    assert 0.5 < text["per_genre"]["web"]["any_upper95"] < 0.9


def test_real_items_split_by_id_into_stable_parts() -> None:
    ids = [f"A-xx-{i:05d}" for i in range(5000)]
    parts = Counter(split_of(i) for i in ids)
    assert set(parts) == {"train", "dev", "test"}
    assert 0.57 < parts["train"] / 5000 < 0.63 and 0.17 < parts["dev"] / 5000 < 0.23
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]
    rows = [{"id": i, "text": "t", "lang": "en", "real": True} for i in ids[:200]]
    dev, test = split_gold(rows, "dev"), split_gold(rows, "test")
    assert not {r["id"] for r in dev} & {r["id"] for r in test}
    assert all(split_of(r["id"]) == "dev" for r in dev)


def test_the_background_is_built_from_the_train_part_and_ships_no_text(tmp_path: Path) -> None:
    folder = tmp_path / "realtext"
    folder.mkdir()
    sentences = [{"id": f"s-{i}", "text": f"Market weather bulletin number {i} for the valley.", "lang": "en",
                  "kind": "sentence", "source": "example/repo:file", "licence": "CC0"} for i in range(40)]
    documents = [{"id": "d-1", "text": "Market weather for the north. The valley road is open again today.",
                  "lang": "en", "kind": "document", "source": "example/repo:doc", "licence": "CC0"}]
    _write_jsonl(folder / "sentences.jsonl", sentences)
    _write_jsonl(folder / "documents.jsonl", documents)
    out = tmp_path / "bg.npz"
    build_background(folder, ToyEncoder(), out)
    train = real_items(folder, "train")
    texts = background_texts(train)[0]
    n_documents = sum(1 for item in train if item["kind"] == "document")
    assert 0 < len(train) < 41 and len(texts) == len(train) + n_documents  # a document gives its two sentences
    loaded = load_background(out)
    assert loaded is not None and loaded.embeddings.dtype == np.float16 and len(loaded) == len(texts)
    # What is stored round-trips: the packed embeddings and n-gram counts equal those of the texts.
    assert np.allclose(loaded.embeddings, ToyEncoder().encode(texts), atol=0.01)
    assert (loaded.counts != CharFeatures().counts(texts)).nnz == 0
    raw = out.read_bytes()
    with np.load(out) as data:
        strings = " ".join(str(data[k]) for k in data.files if data[k].dtype.kind in "US")
    assert "valley" not in strings and b"valley" not in raw


def test_the_shipped_background_loads_and_names_its_sources() -> None:
    from pmon.classifiers.narratives.background import background_meta

    background = load_background(DEFAULT_BACKGROUND)
    assert background is not None and len(background) > 1000
    assert background.embeddings.shape == (len(background), 384)
    meta = background_meta()
    assert meta["rows"] == len(background) and all("licence" in s for s in meta["sources"].values())
