"""Alert rules on small synthetic warehouses: each rule fires on what it is for and stays quiet otherwise."""

from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmon.alerts.rules import AlertKind, AlertSettings, binomial_upper_tail, evaluate_alerts, list_alerts
from tests.alerts.conftest import NOW, add_documents, steady

QUIET = AlertSettings(emerging_enabled=False)


def _background(lang: str = "tg", source: str = "tg-news") -> list:
    """A language that is monitored: other narratives and plain news, steadily, over the last 11 weeks."""
    return (steady(source, lang, "anti_western", 3, 11, 0, tag="bg ")
            + steady(source, lang, None, 6, 11, 0, tag="news "))


def _kinds(alerts: list) -> list[tuple[str, str | None, str | None, str | None]]:
    return sorted((a.kind.value, a.narrative, a.lang, a.source_id) for a in alerts)


def test_spike_fires_on_a_real_rise(make_warehouse) -> None:
    docs = _background() + steady("tg-news", "tg", "economic_recruitment", 2, 9, 7, tag="old ")
    docs += [("tg-news", "tg", f"rise {i}", i % 7, ["economic_recruitment"]) for i in range(15)]
    wh = make_warehouse(docs)

    alerts = evaluate_alerts(wh.con, QUIET, now=NOW)

    spikes = [a for a in alerts if a.kind is AlertKind.spike]
    assert [(a.narrative, a.lang) for a in spikes] == [("economic_recruitment", "tg")]
    spike = spikes[0]
    assert spike.observed == 15
    assert spike.expected is not None and spike.expected < 4
    assert spike.details["adjusted_p"] <= QUIET.spike_alpha
    assert spike.details["test"].startswith("conditional binomial")
    assert len(spike.evidence) == QUIET.evidence_per_alert
    assert all(e.published_at and e.published_at.date() >= (NOW - timedelta(days=6)).date() for e in spike.evidence)
    assert spike.window_end - spike.window_start == timedelta(days=7)


def test_no_spike_from_one_to_three_posts(make_warehouse) -> None:
    docs = _background() + steady("tg-news", "tg", "economic_recruitment", 1, 8, 14, tag="old ")
    docs += [("tg-news", "tg", f"three {i}", i, ["economic_recruitment"]) for i in range(3)]
    wh = make_warehouse(docs)

    alerts = evaluate_alerts(wh.con, QUIET, now=NOW)

    assert not [a for a in alerts if a.kind is AlertKind.spike]
    # Even a narrative new to the week: three posts are below the minimum support.
    lenient = AlertSettings(emerging_enabled=False, spike_alpha=0.5, spike_min_ratio=1.0)
    assert not [a for a in evaluate_alerts(wh.con, lenient, now=NOW) if a.kind is AlertKind.spike]


def test_no_spike_at_a_steady_rate(make_warehouse) -> None:
    wh = make_warehouse(_background() + steady("tg-news", "tg", "economic_recruitment", 6, 11, 0, tag="steady "))
    assert not [a for a in evaluate_alerts(wh.con, QUIET, now=NOW) if a.kind is AlertKind.spike]


def test_spike_per_source_when_asked(make_warehouse) -> None:
    docs = _background() + _background("tg", "tg-blog") + steady("tg-blog", "tg", "economic_recruitment", 1, 9, 7)
    docs += [("tg-blog", "tg", f"blog rise {i}", i % 7, ["economic_recruitment"]) for i in range(12)]
    wh = make_warehouse(docs)
    by_source = AlertSettings(emerging_enabled=False, spike_dimensions=["source"])

    alerts = evaluate_alerts(wh.con, by_source, now=NOW)

    assert [(a.kind.value, a.narrative, a.source_id, a.lang) for a in alerts if a.kind is AlertKind.spike] == [
        ("spike", "economic_recruitment", "tg-blog", None)]


def test_spread_to_a_monitored_language(make_warehouse) -> None:
    docs = steady("fa-news", "fa", "anti_regional.china", 2, 9, 7) + _background("uz", "uz-news")
    docs += [("uz-news", "uz", f"china uz {i}", i, ["anti_regional.china"]) for i in range(4)]
    wh = make_warehouse(docs)

    alerts = evaluate_alerts(wh.con, QUIET, now=NOW)

    spread = [a for a in alerts if a.kind is AlertKind.spread]
    # The parent narrative (anti_regional) is new to uz too, but the sub-narrative says more: one alert.
    assert [(a.narrative, a.lang) for a in spread] == [("anti_regional.china", "uz")]
    assert spread[0].observed == 4
    assert spread[0].details["seen_before_in"] == ["fa"]
    assert {e.lang for e in spread[0].evidence} == {"uz"}


@pytest.mark.parametrize(("stray", "fires"), [(2, True), (3, True), (6, False)])
def test_spread_tolerates_stray_detections_not_an_established_presence(make_warehouse, stray: int, fires: bool) -> None:
    docs = steady("fa-news", "fa", "anti_regional.china", 2, 9, 7) + _background("uz", "uz-news")
    docs += [("uz-news", "uz", f"stray {i}", 15 + 9 * i, ["anti_regional.china"]) for i in range(stray)]
    docs += [("uz-news", "uz", f"china uz {i}", i, ["anti_regional.china"]) for i in range(4)]
    wh = make_warehouse(docs)
    spread = [a for a in evaluate_alerts(wh.con, QUIET, now=NOW) if a.kind is AlertKind.spread]
    assert [(a.narrative, a.lang) for a in spread] == ([("anti_regional.china", "uz")] if fires else [])
    if fires:
        assert spread[0].details["baseline"] == stray and f"only {stray}" in spread[0].summary


def test_no_spread_into_a_language_not_monitored_before(make_warehouse) -> None:
    docs = steady("fa-news", "fa", "anti_regional.china", 2, 9, 7)
    docs += [("uz-new", "uz", f"china uz {i}", i, ["anti_regional.china"]) for i in range(4)]
    docs += [("uz-new", "uz", f"uz news {i}", i, []) for i in range(20)]  # uz only started this week
    wh = make_warehouse(docs)
    assert not [a for a in evaluate_alerts(wh.con, QUIET, now=NOW) if a.kind is AlertKind.spread]


def test_silence_of_a_source_that_used_to_publish(make_warehouse) -> None:
    docs = steady("fa-blog", "fa", None, 7, 8, 10, tag="blog ")  # daily until 10 days ago
    docs += steady("fa-daily", "fa", None, 7, 9, 1, tag="daily ")  # daily until yesterday
    docs += steady("fa-rare", "fa", None, 0.5, 8, 10, tag="rare ")  # four posts in two months
    wh = make_warehouse(docs)  # no sources configured: silence reads the documents

    alerts = evaluate_alerts(wh.con, QUIET, now=NOW)

    silent = [a for a in alerts if a.kind is AlertKind.silence]
    assert [a.source_id for a in silent] == ["fa-blog"]
    assert silent[0].details["gap_days"] == 10
    assert silent[0].expected == pytest.approx(10.0, abs=0.6)
    assert len(silent[0].evidence) == QUIET.evidence_per_alert  # its last documents


def test_evaluating_twice_stores_each_alert_once(make_warehouse) -> None:
    docs = _background() + steady("tg-news", "tg", "economic_recruitment", 2, 9, 7, tag="old ")
    docs += [("tg-news", "tg", f"rise {i}", i % 7, ["economic_recruitment"]) for i in range(15)]
    docs += steady("fa-blog", "fa", None, 7, 8, 10, tag="blog ")
    wh = make_warehouse(docs)

    first = evaluate_alerts(wh.con, QUIET, now=NOW)
    second = evaluate_alerts(wh.con, QUIET, now=NOW)
    next_day = evaluate_alerts(wh.con, QUIET, now=NOW + timedelta(days=1))

    assert {a.kind for a in first} == {AlertKind.spike, AlertKind.silence}
    assert second == []
    assert next_day == []  # the same spike (overlapping window) and the same silent spell: not alerted again
    assert wh.count("alerts") == len(first)
    assert {a.id for a in list_alerts(wh.con)} == {a.id for a in first}


def test_alert_ids_are_stable_and_stored_with_evidence(make_warehouse) -> None:
    docs = _background() + [("tg-news", "tg", f"rise {i}", i % 7, ["economic_recruitment"]) for i in range(12)]
    wh = make_warehouse(docs)
    stored = evaluate_alerts(wh.con, QUIET, now=NOW)
    again = make_warehouse(docs)
    assert [a.id for a in evaluate_alerts(again.con, QUIET, now=NOW)] == [a.id for a in stored]
    listed = list_alerts(wh.con, since=(NOW - timedelta(days=6)).date())
    assert [a.model_dump() for a in listed] == [a.model_dump() for a in stored]
    assert listed[0].evidence and listed[0].evidence[0].excerpt


def test_new_documents_can_raise_new_alerts(make_warehouse) -> None:
    wh = make_warehouse(_background())
    assert evaluate_alerts(wh.con, QUIET, now=NOW) == []
    add_documents(wh, [("tg-news", "tg", f"late rise {i}", i % 5, ["caliphate_vision"]) for i in range(10)])
    # New to tg, which was monitored: spread (a spike needs a baseline rate to rise from).
    assert _kinds(evaluate_alerts(wh.con, QUIET, now=NOW)) == [("spread", "caliphate_vision", "tg", None)]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMON_ALERTS_RECENT_DAYS", "14")
    monkeypatch.setenv("PMON_ALERTS_SPIKE_DIMENSIONS", '["lang", "source"]')
    loaded = AlertSettings()
    assert loaded.recent_days == 14
    assert loaded.spike_dimensions == ["lang", "source"]
    for name, field in AlertSettings.model_fields.items():
        assert field.description, f"AlertSettings.{name} has no description"


def _exact_tail(k: int, n: int, p: Fraction) -> Fraction:
    return sum((Fraction(math.comb(n, i)) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)), Fraction(0))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), k=st.integers(0, 45), p=st.fractions(min_value=0, max_value=1, max_denominator=50))
def test_binomial_tail_matches_exact_arithmetic(n: int, k: int, p: Fraction) -> None:
    expected = float(_exact_tail(k, n, p)) if k <= n else 0.0
    assert binomial_upper_tail(k, n, float(p)) == pytest.approx(expected, rel=1e-9, abs=1e-15)
