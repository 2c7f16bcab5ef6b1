"""Message links: the linker on constructed vectors (fast), and on the shipped synthetic parallel releases with the
real encoder (slow): every release found across its six languages, its near-miss distractors kept apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pmon.classifiers.links import (
    LinkDocument,
    LinkSettings,
    document_embeddings,
    link,
    numbers_in,
    pair_scores,
    sentence_embeddings,
)

RELEASES = Path(__file__).parents[1] / "fixtures" / "links" / "releases.jsonl"
T0 = datetime(2027, 1, 10, tzinfo=UTC)
LANGS = ("en", "tg", "uz", "fa", "ps", "ug")


def _translations(rng: np.random.Generator, messages: int, noise: float) -> tuple[list[LinkDocument], np.ndarray]:
    """`messages` texts, each in all six languages: one base vector per message plus per-language noise."""
    docs, rows = [], []
    for m in range(messages):
        base = rng.normal(size=64)
        for i, lang in enumerate(LANGS):
            docs.append(LinkDocument(id=f"m{m}-{lang}", text="", lang=lang, published_at=T0 + timedelta(hours=m + i)))
            rows.append(base + noise * rng.normal(size=64))
    vectors = np.array(rows, dtype=np.float32)
    return docs, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_translations_of_one_text_form_one_group_each() -> None:
    docs, vectors = _translations(np.random.default_rng(0), messages=20, noise=0.3)
    groups = {d: m.group for d, m in link(docs, vectors, LinkSettings(background_cosine=0.0, min_cosine=0.5)).items()}
    gold = {d.id: d.id.split("-")[0] for d in docs}
    scores = pair_scores(groups, gold)
    assert scores.precision == 1.0 and scores.recall == 1.0


def test_lag_and_first_document_follow_publication_time() -> None:
    docs, vectors = _translations(np.random.default_rng(1), messages=3, noise=0.3)
    memberships = link(docs, vectors, LinkSettings(background_cosine=0.0, min_cosine=0.5))
    assert memberships["m1-ug"].first_id == "m1-en"
    assert memberships["m1-ug"].lag_hours == 5.0
    assert memberships["m1-en"].lag_hours == 0.0 and memberships["m1-en"].group == "m1-en"


def test_documents_further_apart_than_the_window_are_not_linked() -> None:
    docs, vectors = _translations(np.random.default_rng(2), messages=1, noise=0.1)
    late = [LinkDocument(id=d.id, text="", lang=d.lang, published_at=d.published_at + timedelta(days=30 * i))
            for i, d in enumerate(docs)]
    memberships = link(late, vectors, LinkSettings(background_cosine=0.0, min_cosine=0.5))
    assert len({m.group for m in memberships.values()}) == len(docs)


def test_unrelated_documents_stay_alone() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(60, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [LinkDocument(id=str(i), text="", lang=LANGS[i % 6], published_at=T0 + timedelta(hours=i))
            for i in range(60)]
    assert all(m.score is None for m in link(docs, vectors).values())


def test_known_groups_keep_their_ids_and_are_never_merged() -> None:
    docs, vectors = _translations(np.random.default_rng(4), messages=2, noise=0.2)
    settings = LinkSettings(background_cosine=0.0, min_cosine=0.5)
    # m0's English and Tajik were linked before into "old-a"; m0's Uzbek once into "old-b": a new doc joins one.
    known = {"m0-en": "old-a", "m0-tg": "old-a", "m0-uz": "old-b"}
    memberships = link(docs, vectors, settings, known=known)
    assert {d: memberships[d].group for d in known} == known
    assert memberships["m0-fa"].group in {"old-a", "old-b"}
    assert memberships["m1-fa"].group == "m1-en"


def test_numbers_are_read_in_every_script() -> None:
    assert numbers_in("۴۵٬۰۰۰ برای ۲۰ بستر") == {"45000", "20"}
    assert numbers_in("45,000 for 20 beds") == {"45000", "20"}
    assert numbers_in("no numbers") == frozenset()


def test_pair_scores_count_pairs_and_lone_documents() -> None:
    gold = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "3"}
    predicted = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "z"}
    scores = pair_scores(predicted, gold)
    assert (scores.true_pairs, scores.predicted_pairs, scores.gold_pairs) == (1, 2, 3)
    assert scores.unrelated == 2 and scores.unrelated_linked == 1
    with pytest.raises(ValueError, match="different documents"):
        pair_scores({"a": "x"}, gold)


def test_document_embedding_is_the_normalised_mean_of_its_sentences() -> None:
    def embed(sentences: list[str]) -> np.ndarray:
        rows = np.array([[len(s), 1.0] for s in sentences], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    text = "The first sentence is here and long enough. The second one, also long enough to stand alone."
    vector = document_embeddings([text], embed)[0]
    expected = embed(["The first sentence is here and long enough.",
                      "The second one, also long enough to stand alone."]).mean(axis=0)
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), rtol=1e-6)


# -- the real encoder on the shipped synthetic parallel releases --------------------------------------------------
def _releases() -> list[dict]:
    return [json.loads(line) for line in RELEASES.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_synthetic_releases_link_across_six_languages_and_distractors_stay_out_of_them() -> None:
    from pmon.classifiers.encoders import load_encoder
    from pmon.classifiers.langid import detect_document

    records = _releases()
    docs = [LinkDocument(id=r["id"], text=r["text"], lang=detect_document(r["text"]).lang,
                         published_at=datetime.fromisoformat(r["published_at"]), source=r["source"]) for r in records]
    assert {d.lang for d in docs} == set(LANGS)
    encoder = load_encoder()
    sentences = sentence_embeddings([d.text for d in docs], encoder.encode)
    memberships = link(docs, document_embeddings(sentences=sentences), sentences=sentences)
    groups: dict[str, set[str]] = {}
    for doc_id, membership in memberships.items():
        groups.setdefault(membership.group, set()).add(doc_id)
    for release in ("r1", "r2", "r3", "r4"):  # each release whole, and no near-miss distractor in it
        assert {r["id"] for r in records if r["group"] == release} in groups.values(), (release, groups)
    assert memberships["r1-en-repost"].group == memberships["r1-en"].group  # a near-duplicate in one language
    # Known limit (docs/links.md): in a window this small, distractors on one topic in different languages are
    # each other's only neighbours and may link to one another; they never join a release.


@pytest.mark.slow
def test_link_and_eval_links_commands_round_trip(tmp_path: Path) -> None:
    from pmon.cli.main import app

    runner = CliRunner()
    gold = tmp_path / "gold.jsonl"
    gold.write_text(RELEASES.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    linked = runner.invoke(app, ["link", str(gold)])
    assert linked.exit_code == 0, linked.output
    out = [json.loads(line) for line in linked.stdout.splitlines()]
    assert [o["id"] for o in out] == [r["id"] for r in _releases()]
    assert set(out[0]) == {"id", "group", "lang", "first_id", "lag_hours"}
    by_id = {o["id"]: o for o in out}
    assert by_id["r1-ug"]["first_id"] == "r1-en" and by_id["r1-ug"]["lag_hours"] == 47.0

    evaluated = runner.invoke(app, ["eval", "links", str(gold), "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    summary = json.loads(evaluated.stdout)
    assert summary["documents"] == len(out) and summary["pair_recall"] == 1.0 and summary["gold_pairs"] == 66


def test_eval_links_refuses_a_bad_gold_file_in_one_line(tmp_path: Path) -> None:
    from pmon.cli.main import app

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "hello"}\nnot json\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "links", str(bad)])
    assert result.exit_code == 1
    assert "line 1: expected a 'group'" in result.output and "(and 1 more bad lines)" in result.output
    assert "Traceback" not in result.output


def test_link_reports_each_bad_line_by_number(tmp_path: Path) -> None:
    from pmon.cli.main import app

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "hello"}\nnot json\n{"id": "b", "text": "", "published_at": "2027-01-01"}\n',
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["link", str(bad)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "line 1: expected an ISO 'published_at'" in result.stderr
    assert "line 2: invalid JSON" in result.stderr and "line 3: expected a non-empty string 'text'" in result.stderr
    assert "Traceback" not in result.output
