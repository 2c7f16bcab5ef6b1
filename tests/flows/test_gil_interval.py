"""The monitor flow shortens the GIL's switch interval while it runs (the encoder's throughput) and restores it."""

from __future__ import annotations

import sys

import pytest

import pmon.flows.monitor as monitor_module
import pmon.pipeline.run as pipeline_run


class _Stop(Exception):
    pass


def test_monitor_runs_with_short_gil_slices_and_restores_them(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def load_sources(path: str) -> None:  # the flow's first step: note the interval, then stop the run there
        seen.append(sys.getswitchinterval())
        raise _Stop

    monkeypatch.setattr(pipeline_run, "load_sources", load_sources)
    before = sys.getswitchinterval()
    assert before > monitor_module.GIL_SWITCH_INTERVAL_S  # Python's default, 5 ms
    with pytest.raises(_Stop):
        monitor_module.monitor.fn("sources.yaml", "unused.duckdb")  # the flow's own function, without Prefect
    assert seen == [pytest.approx(monitor_module.GIL_SWITCH_INTERVAL_S)]
    assert sys.getswitchinterval() == before
