"""The fuzz script in small: every generator runs, nothing crashes, every bad input reaches quarantine.

The full run is `.venv/bin/python -m tests.reliability.fuzz --n 1000` (see docs/operating.md for its counts).
"""

from __future__ import annotations

import pytest

from tests.reliability.fuzz import GENERATORS, run_fuzz


@pytest.mark.slow
def test_fuzz_small_run_is_clean() -> None:
    report = run_fuzz(n=160, seed=11)
    assert report.ok, report.failures[:10]
    assert report.cases == 160 and report.crashes == 0 and report.missed == 0
    assert len(report.by_generator) >= len(GENERATORS) - 2  # (almost) every generator drawn at this size
    assert report.quarantined_as_expected + report.accepted_as_expected == report.cases
