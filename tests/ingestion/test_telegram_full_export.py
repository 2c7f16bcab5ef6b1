"""Telegram Desktop full-account exports ("Export Telegram data": `chats.list`, `left_chats.list`) are read
chat by chat (#14), from a real file and over HTTP, with item ids that stay distinct between chats whose
message ids overlap. The export below is synthetic and mild.
"""

from __future__ import annotations

import json
from pathlib import Path

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from pmon.schemas.sources import SourceConfig
from tests.reliability.hostile import hostile_server

FULL_EXPORT = {
    "about": "Here is the data you requested.",
    "personal_information": {"user_id": 5550001, "first_name": "Test", "last_name": "", "phone_number": "+0 000 000"},
    "contacts": {"about": "contacts", "list": []},
    "chats": {
        "about": "This page lists all chats from this export.",
        "list": [
            {"name": "Market news", "type": "public_channel", "id": 1001, "messages": [
                {"id": 1, "type": "message", "date": "2026-10-01T09:00:00", "date_unixtime": "1790845200",
                 "from": "Market news", "text": "Flour prices rose again in the northern districts."},
                {"id": 2, "type": "service", "action": "pin_message", "text": ""},
                {"id": 3, "type": "message", "date_unixtime": "1790848800",
                 "text": [{"type": "bold", "text": "Update:"}, " bread costs more this week."]},
            ]},
            {"name": "Weather notes", "type": "private_group", "id": 2002, "messages": [
                {"id": 1, "type": "message", "date_unixtime": "1790852400", "from": "Ana",
                 "text": "Heavy snow is expected in the north tomorrow."},
                {"id": 3, "type": "message", "photo": "photos/1.jpg", "text": ""},
            ]},
            {"name": "Broken chat", "type": "private_group", "messages": [
                {"id": 1, "type": "message", "text": "A chat without an id cannot be told from another."}]},
        ],
    },
    "left_chats": {"about": "Chats you left.", "list": [
        {"name": "Old channel", "type": "public_channel", "id": 3003, "messages": [
            {"id": 1, "type": "message", "date_unixtime": "1790856000", "text": "The road to the valley has reopened."},
        ]},
    ]},
}


def _read(location: str) -> SourceBatch:
    source = SourceConfig(id="account", kind="telegram", location=location, allow_private_network=True)
    with SafeFetcher(IngestLimits()) as fetcher:
        return read_source(source, fetcher)


def _check(batch: SourceBatch) -> None:
    items = {item.external_id: item for item in batch.items}
    assert set(items) == {"1001:1", "1001:3", "2002:1", "3003:1"}
    assert items["1001:3"].text == "Update: bread costs more this week."
    assert items["1001:3"].author == "Market news" and items["2002:1"].author == "Ana"
    assert items["3003:1"].text == "The road to the valley has reopened."
    assert items["2002:1"].published_at is not None and items["2002:1"].published_at.year == 2026
    [problem] = batch.problems
    assert problem.reason.startswith("chat #3 (Broken chat) has no usable id"), problem.reason


def test_full_account_export_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(json.dumps(FULL_EXPORT, ensure_ascii=False), encoding="utf-8")
    _check(_read(str(tmp_path)))


def test_full_account_export_over_http() -> None:
    with hostile_server() as server:
        url = server.route(
            "/result.json", json.dumps(FULL_EXPORT).encode(), headers={"Content-Type": "application/json"}
        )
        batch = _read(url)
    _check(batch)
    assert {item.url for item in batch.items} >= {f"{url}#1001:1", f"{url}#2002:1"}


def test_item_ids_stable_between_exports(tmp_path: Path) -> None:
    # A later export holds more messages: the ids of those read before do not change.
    later = json.loads(json.dumps(FULL_EXPORT))
    later["chats"]["list"][1]["messages"].append({"id": 4, "type": "message", "text": "Snow has stopped."})
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, export in ((first, FULL_EXPORT), (second, later)):
        folder.mkdir()
        (folder / "result.json").write_text(json.dumps(export), encoding="utf-8")
    before = {item.external_id: item.text for item in _read(str(first)).items}
    after = {item.external_id: item.text for item in _read(str(second)).items}
    assert after == {**before, "2002:4": "Snow has stopped."}


def test_neither_kind_of_export_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(json.dumps({"chats": {"list": "nope"}}), encoding="utf-8")
    [problem] = _read(str(tmp_path)).problems
    assert "no 'messages' list (a chat export) and no 'chats.list'" in problem.reason
