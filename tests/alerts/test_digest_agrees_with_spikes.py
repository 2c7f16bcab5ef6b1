"""The digest's rising narratives and its spike cards show the same expected count for the same cell (issue #14:
the digest compared against the weeks right before its window, the spike rule against a baseline ending
`spike_guard_days` earlier, so one cell had two different "expected" figures on one page)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from pmon.alerts.digest import build_digest
from pmon.alerts.rules import AlertKind, AlertSettings, evaluate_alerts
from pmon.warehouse import Warehouse
from tests.alerts.conftest import NOW, TODAY, Doc

SETTINGS = AlertSettings(emerging_enabled=False)


def test_rising_narratives_and_spike_cards_expect_the_same(
    make_warehouse: Callable[[Sequence[Doc]], Warehouse],
) -> None:
    # Baseline posts both before the guard (days 20-68: the spike rule's baseline) and inside it (days 8-12:
    # only the weeks right before the window), then a burst in the last week.
    baseline_days = [8, 10, 12, 20, 30, 40, 50, 60, 65, 68]
    docs: list[Doc] = [("tg-channel", "tg", f"Иқтисод бад аст, кор нест, рӯзи {d}", d, ["economic_recruitment"])
                       for d in baseline_days]
    docs += [("tg-channel", "tg", f"Кор нест, ба мо биёед, паёми {i}", i % 6, ["economic_recruitment"])
             for i in range(12)]
    docs += [("tg-channel", "tg", f"Хабари обу ҳаво, рӯзи {d}", d, []) for d in range(0, 70, 3)]
    wh = make_warehouse(docs)
    evaluate_alerts(wh.con, SETTINGS, now=NOW)
    digest = build_digest(wh.con, TODAY - timedelta(days=SETTINGS.recent_days - 1), now=NOW, settings=SETTINGS,
                          charts=False)
    spike = next(a for a in digest.alerts
                 if a.kind is AlertKind.spike and a.narrative == "economic_recruitment" and a.lang == "tg")
    rising = next(r for r in digest.changes if r["narrative"] == "economic_recruitment" and r["lang"] == "tg")
    assert rising["documents"] == spike.observed == 12
    assert rising["expected"] == spike.expected
    assert spike.expected == round(7 * SETTINGS.recent_days / SETTINGS.baseline_days, 2)  # days 20-68 only
