"""bench/soak.py's arithmetic: outages by the alerting rule, gaps, missed and duplicate slots.
(The script itself runs for 3 minutes per shape in .ci/run, as shipped.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.soak import FAIL_COUNT, LEASE_GRACE_SECONDS, analyse, monitor_definitions, outages
from bench.targets import Endpoints

OK, ERROR = 0, 1
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_an_outage_needs_the_fail_count_in_a_row_and_one_ok_recovers_it():
    assert FAIL_COUNT == 3
    assert outages([OK, ERROR, ERROR, OK, ERROR, ERROR, OK]) == (0, 0)
    assert outages([OK, ERROR, ERROR, ERROR, ERROR, OK, OK]) == (1, 1)
    assert outages([ERROR, ERROR, ERROR, OK, ERROR, ERROR, ERROR]) == (2, 1)


def test_gaps_missed_and_duplicate_slots_per_monitor():
    since, until = T0, T0 + timedelta(seconds=20)
    rows = []
    # Every 2 s, but nothing between 6 s and 14 s (a gap of 8 s), and slot 2 s stored twice.
    for second in (0, 2, 2, 4, 6, 14, 16, 18):
        slot = T0 + timedelta(seconds=second)
        rows.append(("m", 2, slot, slot + timedelta(milliseconds=5), OK))

    report = analyse(rows, since, until)

    (monitor,) = report["monitors"]
    assert monitor["largestGap"] == 8.0
    assert monitor["gapBound"] == 2 * 2 + LEASE_GRACE_SECONDS
    assert monitor["duplicates"] == 1
    assert monitor["expected"] == 10
    assert monitor["runs"] == 8
    assert monitor["missed"] == 2
    assert report["outages"] == 0


def test_the_monitor_mix_covers_every_type_and_interval_plus_the_remembering_and_flapping_ones():
    endpoints = Endpoints(
        http=[("127.0.1.1", 1000)], tcp=[("127.0.1.1", 1001)], dns=("127.0.0.1", 1002)
    )
    definitions = monitor_definitions(200, endpoints, "http://127.0.0.1:9/flap")

    assert len(definitions) == 203
    assert {d["type"] for d in definitions} == {
        "http", "tcp", "ping", "dns", "traceroute", "portscan"
    }  # fmt: skip
    assert {d["interval"] for d in definitions} == {"2s", "3s", "5s", "10s"}
    assert definitions[-1]["name"] == "flap"
    assert len({d["name"] for d in definitions}) == 203
