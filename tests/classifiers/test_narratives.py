"""Narrative classifier parts: sentence splitting, heads persistence, evaluation metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pmon.classifiers.narratives import Heads, TrainingSet, fit_heads, split_sentences


def test_sentences_split_on_arabic_script_marks() -> None:
    text = (
        "آیا د بیو لوړېدل به په بازارونو کې دوام ولري؟ سوداګر وایي چې واردات کم شوي دي۔ "
        "Prices rose again in Kabul this week."
    )
    assert split_sentences(text) == [
        "آیا د بیو لوړېدل به په بازارونو کې دوام ولري؟",
        "سوداګر وایي چې واردات کم شوي دي۔",
        "Prices rose again in Kabul this week.",
    ]


def test_short_fragments_merge_and_long_sentences_cut() -> None:
    assert split_sentences("Breaking. The ministry announced a new budget for schools today.") == [
        "Breaking. The ministry announced a new budget for schools today."
    ]
    long = "، ".join(["بخش بسیار طولانی از یک جمله که ادامه دارد"] * 20)
    pieces = split_sentences(long)
    assert len(pieces) > 1 and all(len(p) <= 400 for p in pieces)


def _toy_training() -> tuple[np.ndarray, TrainingSet]:
    rng = np.random.default_rng(0)
    data = TrainingSet()
    rows = []
    for i in range(40):
        label = ["a"] if i % 2 == 0 else []
        data.add(("alpha narrative text " if label else "ordinary market news ") + str(i), label,
                 "promote" if label else "none", "en")
        vector = rng.normal(size=16) + (3.0 if label else -3.0)
        rows.append(vector / np.linalg.norm(vector))
    return np.array(rows, dtype=np.float32), data


def test_heads_round_trip_through_npz(tmp_path: Path) -> None:
    x, data = _toy_training()
    heads = fit_heads(x, data, ["a", "b"], meta={"codebook": "test@1"})
    path = tmp_path / "heads.npz"
    heads.save(path)
    loaded = Heads.load(path)
    assert loaded.digest == heads.digest and loaded.meta == {"codebook": "test@1", "background_rows": "0"}
    xc = loaded.char.transform(data.texts)
    proba, stance = loaded.scores(x, xc)
    assert np.allclose(proba, heads.scores(x, heads.char.transform(data.texts))[0])
    assert np.allclose(stance.sum(axis=1), 1.0) and loaded.stances == ["promote", "none"]
    # The label with exemplars separates its texts; the one without never fires.
    assert (proba[::2, 0] >= loaded.thresholds[0]).mean() > 0.9
    assert (proba[1::2, 0] >= loaded.thresholds[0]).mean() < 0.1
    assert (proba[:, 1] < loaded.thresholds[1]).all()
