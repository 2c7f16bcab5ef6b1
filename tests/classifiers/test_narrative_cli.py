"""`pmon classify`, `pmon eval narratives`, `pmon review` and `pmon train` with the real encoder and codebook.

The classifier is trained from the codebook at first use and cached (as in production), so the first of these
tests on a fresh machine pays for that once; `test_review_then_train_uses_the_analysts_verdicts` trains again,
with the analysts' labels, which is what `pmon train` is for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pmon.classifiers.narratives import Heads, heads_for_warehouse, load_classifier, split_sentences, trained_heads_path
from pmon.classifiers.narratives.evaluate import read_gold, split_gold
from pmon.classifiers.narratives.model import THRESHOLD
from pmon.cli.main import app
from pmon.schemas.codebook import DEFAULT_CODEBOOK, load_codebook

GOLD = Path(__file__).resolve().parents[2] / "eval" / "narratives"


@pytest.fixture(scope="module")
def codebook_texts() -> dict[str, str]:
    """One promote exemplar per narrative (Tajik), and one everyday sentence on the same topics (English)."""
    book = load_codebook(DEFAULT_CODEBOOK)
    tajik = next(s for s in book.exemplars if s.lang == "tg")
    english = next(s for s in book.exemplars if s.lang == "en")
    texts = {leaf: tajik.narratives[leaf].promote[0] for leaf in book.leaf_ids}
    texts["everyday"] = english.hard_negatives[0]
    return texts


@pytest.mark.slow  # the real model (trained once per session)
def test_classify_gives_narratives_with_their_evidence_and_skips_bad_lines(codebook_texts: dict[str, str]) -> None:
    narrative = codebook_texts["economic_recruitment"]
    everyday = codebook_texts["everyday"]
    lines = [
        json.dumps({"id": "mixed", "text": f"{everyday} {narrative}"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": 2, "text": everyday}, ensure_ascii=False),
        json.dumps({"id": "no text"}),
    ]
    result = CliRunner().invoke(app, ["classify"], input="\n".join(lines) + "\n")
    assert result.exit_code == 1, result.output  # bad lines make the exit status say so; the good ones went out
    assert "line 2: invalid JSON" in result.stderr and "line 4: expected an object" in result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in outputs] == ["mixed", 2]
    mixed, plain = outputs
    assert set(mixed) == {"id", "lang", "stance", "narratives"}
    assert "economic_recruitment" in [n["id"] for n in mixed["narratives"]]
    found = next(n for n in mixed["narratives"] if n["id"] == "economic_recruitment")
    assert set(found) == {"id", "score", "evidence"} and 0 < found["score"] <= 1
    # The evidence is the narrative's own sentence(s), not the everyday news sentence before it.
    assert found["evidence"] and all(sentence in narrative for sentence in found["evidence"])
    assert everyday not in found["evidence"]
    assert mixed["stance"] == "promote"
    assert plain["narratives"] == [] and plain["stance"] == "none" and plain["lang"] == "en"


@pytest.mark.slow  # the real model (trained once per session)
def test_every_narrative_is_found_in_its_own_exemplar(codebook_texts: dict[str, str]) -> None:
    classifier = load_classifier()
    leaves = [leaf for leaf in classifier.heads.leaf_ids]
    results = classifier.classify([codebook_texts[leaf] for leaf in leaves])
    assert [
        leaf for leaf, result in zip(leaves, results, strict=True) if leaf not in {n.id for n in result.narratives}
    ] == []
    assert all(r.model_version == classifier.model_version and r.codebook_version for r in results)


@pytest.mark.slow  # the real model (trained once per session)
def test_eval_narratives_reports_every_figure(tmp_path: Path) -> None:
    rows = read_gold([GOLD])
    # A small gold file: the first ten items of every language variety (narratives, everyday and unrelated texts).
    subset = []
    for variety in sorted({(r["lang"], r.get("script")) for r in rows}):
        subset += [r for r in rows if (r["lang"], r.get("script")) == variety][:10]
    subset += [r for r in rows if r["kind"] == "everyday"][:30] + [r for r in rows if r["kind"] == "unrelated"][:10]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in subset), encoding="utf-8")
    # Lines without labels are text known to carry no narrative: they give false-alarm rates, not F1.
    everyday = [
        {"text": "The city council approved the budget for two new bus lines on Tuesday.", "lang": "en",
         "kind": "sentence", "genre": "news", "topic": "general"},
        {"text": "Шӯрои шаҳр барои ду хатти нави автобус буҷа ҷудо кард. Корҳо баҳор оғоз мешаванд.", "lang": "tg",
         "kind": "document", "genre": "news", "topic": "general"},
    ]
    with path.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in everyday)
    result = CliRunner().invoke(app, ["eval", "narratives", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["items"] == len(subset)
    real = report["real_text"]
    assert real["overall"]["items"] == 2 and set(real["per_language"]) == {"en", "tg"}
    assert set(real["per_kind"]) == {"sentence", "document"} and real["overall"]["any"] == 0
    table = CliRunner().invoke(app, ["eval", "narratives", str(path)])
    assert table.exit_code == 0 and "real text, per language and kind" in table.stdout
    assert set(report["per_language"]) == {r["lang"] for r in subset}
    assert set(report["false_alarm_rate"]) == {"everyday", "unrelated"}
    # A broken classifier or metric would not reach this on its own codebook's topics.
    assert 0.5 <= report["macro_f1"] <= 1.0
    assert 0.0 <= report["false_alarm_rate"]["everyday"] <= 0.25
    for label in report["per_label"].values():
        assert set(label) == {"precision", "recall", "f1", "support"}
    assert report["model_version"].startswith("sentence-transformers:")
    assert report["codebook_version"].startswith("iskp@")
    dev = CliRunner().invoke(app, ["eval", "narratives", str(path), "--format", "json", "--split", "dev"])
    assert json.loads(dev.stdout)["items"] == len(split_gold(subset, "dev")) < len(subset)

    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        '{"text": "fine", "labels": []}\n{"text": "labels not a list", "labels": "x"}\n', encoding="utf-8"
    )
    bad = CliRunner().invoke(app, ["eval", "narratives", str(broken)])
    assert bad.exit_code == 1 and f"{broken}:2: needs 'text'" in bad.stderr


def test_gold_splits_are_disjoint_halves() -> None:
    rows = read_gold([GOLD])
    dev, test = split_gold(rows, "dev"), split_gold(rows, "test")
    assert len(dev) + len(test) == len(rows) and not {r["id"] for r in dev} & {r["id"] for r in test}
    assert abs(len(dev) - len(test)) < 0.05 * len(rows)


@pytest.mark.slow
def test_review_then_train_uses_the_analysts_verdicts(demo_warehouse: Path, tmp_path: Path) -> None:
    db = tmp_path / "review.duckdb"
    shutil.copy(demo_warehouse, db)  # the session's demo warehouse stays untouched
    listed = CliRunner().invoke(app, ["review", "--db", str(db), "--format", "json", "--limit", "5", "--margin", "0.5"])
    assert listed.exit_code == 0, listed.output
    candidates = json.loads(listed.stdout)
    assert candidates and {"document_id", "narrative", "score", "evidence"} <= set(candidates[0])
    scores = [c["score"] for c in candidates]
    # Least sure first.
    assert scores == sorted(scores) and all(THRESHOLD <= score <= THRESHOLD + 0.5 for score in scores)
    first, second = candidates[0], candidates[-1]
    confirmed = CliRunner().invoke(app, ["review", "confirm", first["document_id"], first["narrative"], "--db", str(db),
                                         "--stance", "promote", "--analyst", "test"])
    assert confirmed.exit_code == 0, confirmed.output
    rejected = CliRunner().invoke(
        app, ["review", "reject", second["document_id"], second["narrative"], "--db", str(db)]
    )
    assert rejected.exit_code == 0, rejected.output
    unknown = CliRunner().invoke(app, ["review", "confirm", "no-such-document", "anti_western", "--db", str(db)])
    assert unknown.exit_code == 1 and "no document" in unknown.stderr
    # Reviewed detections leave the review list.
    again = json.loads(CliRunner().invoke(app, ["review", "--db", str(db), "--format", "json", "--limit", "5",
                                                "--margin", "0.5"]).stdout)
    assert (first["document_id"], first["narrative"]) not in {(c["document_id"], c["narrative"]) for c in again}

    trained = CliRunner().invoke(app, ["train", "--db", str(db)])
    assert trained.exit_code == 0, trained.output
    heads_path = trained_heads_path(db)
    assert heads_for_warehouse(db) == heads_path  # the next monitor run into this warehouse uses them
    heads = Heads.load(heads_path)
    assert int(heads.meta["analyst_examples"]) >= 2  # the confirmed and the rejected document's sentences
    assert heads.digest != load_classifier().heads.digest
    # The trained heads classify: the confirmed evidence now carries its narrative.
    evidence = first["evidence"].split(" | ")[0]
    out = CliRunner().invoke(app, ["classify", "--heads", str(heads_path)],
                             input=json.dumps({"id": 1, "text": evidence}, ensure_ascii=False) + "\n")
    assert out.exit_code == 0, out.output
    assert first["narrative"] in [n["id"] for n in json.loads(out.stdout)["narratives"]]
    # The rejection counts too: the rejected evidence is a hard negative and no longer carries that narrative.
    rejected_sentence = second["evidence"].split(" | ")[0]
    before = CliRunner().invoke(
        app, ["classify"], input=json.dumps({"id": 2, "text": rejected_sentence}, ensure_ascii=False) + "\n"
    )
    assert second["narrative"] in [n["id"] for n in json.loads(before.stdout)["narratives"]]
    after = CliRunner().invoke(app, ["classify", "--heads", str(heads_path)],
                               input=json.dumps({"id": 2, "text": rejected_sentence}, ensure_ascii=False) + "\n")
    assert second["narrative"] not in [n["id"] for n in json.loads(after.stdout)["narratives"]]


@pytest.mark.slow  # the real model (trained once per session)
def test_long_texts_are_split_into_sentences_for_evidence() -> None:
    text = " ".join(["The market in Kabul opened early today and traders reported steady sales of fruit."] * 3)
    assert len(split_sentences(text)) == 3
    classifier = load_classifier()
    result = classifier.classify([text])[0]
    assert result.narratives == [] and result.stance.value == "none"
    assert np.isfinite(result.stance_score)
