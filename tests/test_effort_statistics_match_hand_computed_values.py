"""annotation/effort.py, the owner's time-and-effort statistics, on reads whose answers are worked
out by hand (and quantiles against NumPy's)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from annotation import effort
from annotation.effort import Read

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("q", [0, 0.25, 0.5, 0.75, 1])
def test_quantiles_are_numpys_linear_interpolation(q):
    values = list(np.random.default_rng(3).gamma(2.0, 12.0, size=37))
    assert effort.quantile(values, q) == pytest.approx(np.percentile(values, 100 * q))
    assert effort.quantile([1, 2, 3, 4], 0.5) == 2.5 and effort.quantile([], 0.5) is None


def test_histogram_puts_each_time_in_its_bin_and_the_long_ones_in_the_open_last():
    bins = effort.histogram([0, 4.9, 5, 19.9, 300, 1000])
    assert [b.count for b in bins] == [2, 1, 1, 0, 0, 0, 0, 2]
    assert [b.label for b in bins][:2] == ["0 s–5 s", "5 s–10 s"] and bins[-1].label == "≥ 5 min"


def test_active_time_counts_gaps_within_a_session_and_one_typical_read_per_session():
    times = [at(0), at(60), at(120), at(3 * 3600), at(3 * 3600 + 30)]  # a three-hour break between two sessions
    assert effort.active_seconds(times, typical_s=20) == 60 + 60 + 30 + 2 * 20
    assert effort.active_seconds([], typical_s=20) == 0


def test_a_raters_median_quartiles_and_cases_per_hour():
    reads = [
        Read("rater1", "c1", {"t": 1}, times_s=(10.0,), submitted_at=(at(10),)),
        Read("rater1", "c2", {"t": 2}, times_s=(20.0,), submitted_at=(at(40),)),
        # revised: 30 s at first, 10 s on the revisit; the read took 40 s
        Read("rater1", "c3", {"t": 3}, revisions=2, times_s=(30.0, 10.0), submitted_at=(at(80), at(400))),
        Read("rater1", "c4", None, submitted_at=(at(500),)),  # flagged: done, untimed
        Read("rater2", "c1", {"t": 1}, times_s=(5.0,)),  # imported: timed, no session
    ]
    one, two = effort.rater_effort(reads)
    assert (one.rater, one.reads, one.scored, one.flagged, one.timed) == ("rater1", 4, 3, 1, 3)
    assert (one.median_s, one.q1_s, one.q3_s, one.total_s) == (20.0, 15.0, 30.0, 70.0)
    assert one.per_hour_reading == pytest.approx(3600 * 3 / 70)
    # submissions at 10, 40, 80, 400, 500 s: one session of 490 s, plus one median read (20 s)
    assert one.active_s == 510 and one.per_hour_active == pytest.approx(3600 * 4 / 510)
    assert [b.count for b in one.bins] == [0, 0, 1, 1, 1, 0, 0, 0] and one.largest_bin == 1
    assert (two.median_s, two.per_hour_active, two.active_s) == (5.0, None, 0)


def test_a_case_spread_is_the_widest_total_and_names_the_rater_who_stands_out():
    reads = [
        Read("rater1", "c1", {"geo": 2, "opa": 1}, revisions=3, times_s=(10.0, 5.0)),
        Read("rater2", "c1", {"geo": 3, "opa": 1}, times_s=(12.0,)),
        Read("rater3", "c1", {"geo": 7, "opa": 2}, revisions=2),
        Read("rater1", "c2", {"geo": 2, "opa": 0}),
        Read("rater2", "c2", {"geo": 6, "opa": 0}),
        Read("rater3", "c2", None),  # flagged: not in the spread
        Read("rater1", "c3", {"geo": 4, "opa": 4}, times_s=(90.0,)),
    ]
    cases = {case.case: case for case in effort.case_effort(reads, total_keys=["geo", "opa"])}
    c1, c2, c3 = cases["c1"], cases["c2"], cases["c3"]
    assert (c1.spread, c1.spread_total, c1.farthest, c1.extra_revisions, c1.time_s, c1.scored) == (
        5,
        "geo",
        "rater3",
        3,
        27.0,
        3,
    )
    assert (c2.spread, c2.farthest, c2.scored) == (4, None, 2)  # two raters apart: neither stands out
    assert (c3.spread, c3.spread_total, c3.farthest) == (None, None, None)  # one read: no spread

    ranked = effort.cases_ranked(cases.values(), by="spread")
    assert [c.case for c in ranked] == ["c1", "c2", "c3"]
    assert [c.case for c in effort.cases_ranked(cases.values(), by="time")] == ["c3", "c1", "c2"]
    assert [c.case for c in effort.cases_ranked(cases.values(), by="revisions", limit=1)] == ["c1"]


def test_agreeing_raters_have_no_spread_and_nobody_stands_out():
    reads = [Read(f"r{i}", "c", {"geo": 3}) for i in range(3)]
    (case,) = effort.case_effort(reads, total_keys=["geo"])
    assert (case.spread, case.farthest) == (0, None)


@pytest.mark.parametrize(
    "seconds, label",
    [(None, "—"), (4, "4 s"), (12.5, "12.5 s"), (60, "1 min"), (95, "1 min 35 s"), (7260, "2 h 1 min")],
)
def test_durations_read_as_people_say_them(seconds, label):
    assert effort.duration_label(seconds) == label
