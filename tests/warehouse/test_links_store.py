"""Message links in a real DuckDB warehouse: new documents join groups or start them, nothing is re-linked."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from pmon.classifiers.links import LinkSettings
from pmon.schemas.detections import Classification
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import Warehouse
from pmon.warehouse.links import message_groups, update_message_links

RELEASES = Path(__file__).parents[1] / "fixtures" / "links" / "releases.jsonl"


def _store(wh: Warehouse, records: list[dict], run_id: str) -> None:
    items = [RawItem(source_id=r["source"], external_id=r["id"], text=r["text"],
                     published_at=datetime.fromisoformat(r["published_at"])) for r in records]
    languages = [LanguageResult(lang=r.get("lang", "en"), script="Latn", confidence=1.0) for r in records]
    wh.store_batch(items, languages, [Classification() for _ in records], run_id, "test")


def _by_external_id(wh: Warehouse) -> dict[str, dict]:
    rows = message_groups(wh)
    external = dict(wh.con.execute("SELECT id, external_id FROM documents").fetchall())
    return {external[r["document_id"]]: r for r in rows}


def _bag_of_words(sentences: list[str]) -> np.ndarray:
    """A small deterministic embedding (hashed words) that makes near-duplicates close and other texts far."""
    rows = np.zeros((len(sentences), 256), dtype=np.float32)
    for i, sentence in enumerate(sentences):
        for word in sentence.lower().split():
            rows[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % 256] += 1.0
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


BOW = LinkSettings(background_cosine=0.0, min_cosine=0.6, min_margin=1.0, same_lang_min_cosine=0.9,
                   align_weight=0.0)
POSTS = [
    {"id": "a1", "source": "s1", "published_at": "2027-01-10T08:00:00Z",
     "text": "The district council announces a winter charity drive for warm clothes and flour at the school."},
    {"id": "a2", "source": "s2", "published_at": "2027-01-10T12:00:00Z",
     "text": "Reposted: the district council announces a winter charity drive for warm clothes and flour at the "
             "school."},
    {"id": "b1", "source": "s1", "published_at": "2027-01-11T08:00:00Z",
     "text": "Farmers asked the administration to repair the second pump before the cotton season begins."},
]


def test_new_documents_join_groups_and_nothing_is_linked_twice(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        _store(wh, POSTS[:1] + POSTS[2:], "run1")
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW, run_id="run1") == 2
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW, run_id="run1b") == 0
        first = _by_external_id(wh)
        assert first["a1"]["group_id"] != first["b1"]["group_id"]

        # the repost arrives in a later run, and an earlier copy (published before a1) in the one after
        _store(wh, POSTS[1:2], "run2")
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW, run_id="run2") == 1
        earlier = {**POSTS[1], "id": "a0", "source": "s3", "published_at": "2027-01-10T02:00:00Z"}
        _store(wh, [earlier], "run3")
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW, run_id="run3") == 1

        links = _by_external_id(wh)
        group = first["a1"]["group_id"]
        assert {links[k]["group_id"] for k in ("a0", "a1", "a2")} == {group}  # the group keeps its id
        assert links["a2"]["score"] is not None
        assert links["a1"]["first_id"] == links["a0"]["document_id"] and links["a1"]["first_source"] == "s3"
        assert links["a1"]["lag_hours"] == 6.0 and links["a2"]["lag_hours"] == 10.0
        linked_at = dict(wh.con.execute("SELECT document_id, run_id FROM message_links").fetchall())
        assert linked_at[first["a1"]["document_id"]] == "run1"  # not re-linked by the later runs


def test_a_reopened_warehouse_links_nothing_again(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        _store(wh, POSTS, "run1")
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW) == 3
    calls: list[int] = []

    def counting(sentences: list[str]) -> np.ndarray:
        calls.append(len(sentences))
        return _bag_of_words(sentences)

    with Warehouse.open(path) as wh:
        assert update_message_links(wh, counting, "bow", settings=BOW) == 0
    assert calls == []  # an unchanged warehouse costs no embedding


@pytest.mark.slow
def test_synthetic_releases_are_linked_incrementally_with_the_real_encoder(tmp_path: Path) -> None:
    from pmon.classifiers.encoders import load_encoder
    from pmon.classifiers.langid import detect_document

    encoder = load_encoder()
    records = [json.loads(line) for line in RELEASES.read_text(encoding="utf-8").splitlines()]
    for r in records:
        r["lang"] = detect_document(r["text"]).lang
    held_back = {"r2-ug", "r3-en"}  # r3's first-published member arrives late
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        _store(wh, [r for r in records if r["id"] not in held_back], "run1")
        assert update_message_links(wh, encoder.encode, encoder.name) == len(records) - 2
        _store(wh, [r for r in records if r["id"] in held_back], "run2")
        assert update_message_links(wh, encoder.encode, encoder.name) == 2
        assert update_message_links(wh, encoder.encode, encoder.name) == 0
        links = _by_external_id(wh)
    groups: dict[str, set[str]] = {}
    for r in records:
        groups.setdefault(links[r["id"]]["group_id"], set()).add(r["id"])
    for release in ("r1", "r2", "r3", "r4"):
        members = {r["id"] for r in records if r["group"] == release}
        assert members in groups.values(), (release, groups)
    assert links["r3-ug"]["first_id"] == links["r3-en"]["document_id"] and links["r3-ug"]["first_lang"] == "en"


@pytest.mark.slow
def test_the_monitor_flow_links_every_document_once(
    demo_media: tuple[Path, str], demo_warehouse: Path, tmp_path: Path,
) -> None:
    import shutil

    from pmon.flows.monitor import run_monitor

    db = tmp_path / "again.duckdb"
    shutil.copy(demo_warehouse, db)

    def links() -> tuple[int, dict[str, object]]:
        with Warehouse.open(db, read_only=True) as wh:
            rows = dict(wh.con.execute("SELECT document_id, linked_at FROM message_links").fetchall())
            return wh.count("documents"), rows

    documents, before = links()
    assert documents > 0 and len(before) == documents
    run_monitor(demo_media[0] / "sources.yaml", db)
    assert links() == (documents, before)  # the second run linked nothing again


def test_documents_older_than_the_backlog_are_left_unlinked(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        _store(wh, POSTS, "run1")
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW, backlog_days=0) == 0
        assert update_message_links(wh, _bag_of_words, "bow", settings=BOW, backlog_days=None) == 3


def test_a_document_shows_the_other_members_of_its_message_english_first(tmp_path: Path) -> None:
    from pmon.warehouse.browse import get_document

    posts = [{**POSTS[0], "lang": "tg"}, {**POSTS[1], "lang": "en"}, POSTS[2]]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        _store(wh, posts, "run1")
        update_message_links(wh, _bag_of_words, "bow", settings=BOW, run_id="run1")
        ids = {external: doc["document_id"] for external, doc in _by_external_id(wh).items()}
        shown = get_document(wh.con, ids["a1"])
        alone = get_document(wh.con, ids["b1"])
    assert shown is not None and alone is not None
    assert [(m["id"], m["lang"], m["lag_hours"]) for m in shown["message"]] == [(ids["a2"], "en", 4.0)]
    assert alone["message"] == []


def test_more_like_this_ranks_documents_by_their_stored_vectors(tmp_path: Path) -> None:
    from pmon.warehouse.browse import similar_documents

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        _store(wh, POSTS, "run1")
        update_message_links(wh, _bag_of_words, "bow", settings=BOW, run_id="run1")
        ids = {external: doc["document_id"] for external, doc in _by_external_id(wh).items()}
        nearest = similar_documents(wh.con, ids["a1"])
        unknown = similar_documents(wh.con, "no-such-document")
    assert [row["id"] for row in nearest] == [ids["a2"], ids["b1"]]  # the repost first, the unrelated post last
    assert nearest[0]["similarity"] > 0.9 > nearest[1]["similarity"]
    assert unknown == []
