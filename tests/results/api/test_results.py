"""Result routes: newest first, NanoMon's ``max``, unknown monitors, paging and deletion."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from results.models import MonitorState, Result
from results.selectors import results_latest

pytestmark = pytest.mark.django_db


def add_results(monitor, now, count: int, *, name: str | None = None) -> list[Result]:
    """``count`` results one minute apart, the newest at ``now``."""
    return Result.objects.bulk_create(
        Result(
            monitor=monitor,
            monitor_name=name or monitor.name,
            monitor_target=monitor.target,
            date=now - timedelta(minutes=minutes),
            scheduled_for=now - timedelta(minutes=minutes),
            status=minutes % 3,
            value=float(minutes),
            message="" if minutes % 3 == 0 else "Rule violated: status == 200",
            outputs={"status": 200.0, "respTime": 12.5} if minutes % 3 != 2 else None,
        )
        for minutes in range(count)
    )


def test_a_monitors_results_come_newest_first_in_nanomon_shape(admin, make_monitor, now):
    monitor = make_monitor(name="web")
    add_results(monitor, now, 3)

    response = admin.get(f"/api/monitors/{monitor.id}/results")

    assert response.status_code == 200
    body = response.json()
    assert [result["date"] for result in body] == [
        "2026-11-21T12:00:00Z",
        "2026-11-21T11:59:00Z",
        "2026-11-21T11:58:00Z",
    ]
    assert body[0] == {
        "date": "2026-11-21T12:00:00Z",
        "status": 0,
        "value": 0.0,
        "message": "",
        "monitor_id": monitor.id,
        "monitor_name": "web",
        "monitor_target": "http://127.0.0.1:9/",
        "outputs": {"status": 200.0, "respTime": 12.5},
    }
    assert body[2]["outputs"] is None


def test_results_keep_the_snapshot_of_the_name_they_ran_with(admin, make_monitor, now):
    monitor = make_monitor(name="new name")
    add_results(monitor, now, 1, name="old name")

    body = admin.get(f"/api/monitors/{monitor.id}/results").json()

    assert body[0]["monitor_name"] == "old name"


def test_max_defaults_to_100_and_limits_the_count(admin, make_monitor, now):
    monitor = make_monitor()
    add_results(monitor, now, 120)

    assert len(admin.get(f"/api/monitors/{monitor.id}/results").json()) == 100
    assert len(admin.get(f"/api/monitors/{monitor.id}/results?max=5").json()) == 5
    assert len(admin.get("/api/results?max=1000").json()) == 120


@pytest.mark.parametrize("path", ["/api/results", "/api/monitors/1/results"])
@pytest.mark.parametrize(
    ("max_value", "detail"),
    [
        ("abc", "max must be an integer"),
        ("1.5", "max must be an integer"),
        ("0", "max must be between 1 and 1000"),
        ("1001", "max must be between 1 and 1000"),
        ("-1", "max must be between 1 and 1000"),
        ("99999999999999999999999999999999999", "max must be between 1 and 1000"),
    ],
)
def test_a_bad_max_is_a_400_with_nanomons_detail(admin, path, max_value, detail):
    response = admin.get(f"{path}?max={max_value}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == detail


def test_the_bounds_of_max_are_accepted(admin):
    assert admin.get("/api/results?max=1").status_code == 200
    assert admin.get("/api/results?max=1000").status_code == 200


def test_results_of_an_unknown_or_deleted_monitor_are_an_empty_list_not_a_404(admin, make_monitor):
    # NanoMon's contract (and its own API test suite, tests/nanomon/api/test_nanomon_suite.py).
    deleted = make_monitor(name="gone")
    assert admin.delete(f"/api/monitors/{deleted.id}").status_code == 204
    for monitor_id in (str(deleted.id), "4520881", "0", "-1", "123456789012345678901234567890"):
        response = admin.get(f"/api/monitors/{monitor_id}/results")
        assert response.status_code == 200
        assert response.json() == []


def test_results_of_a_monitor_id_that_is_not_an_integer_are_a_400(admin):
    response = admin.get("/api/monitors/abc/results")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("monitor id must be an integer")


def test_results_across_monitors_interleave_newest_first(admin, make_monitor, now):
    first, second = make_monitor(name="a"), make_monitor(name="b")
    add_results(first, now, 2)
    add_results(second, now - timedelta(seconds=30), 2)

    body = admin.get("/api/results?max=10").json()

    assert [result["monitor_name"] for result in body] == ["a", "b", "a", "b"]


def test_before_pages_through_older_results_without_gaps_or_repeats(admin, make_monitor, now):
    monitor = make_monitor()
    add_results(monitor, now, 25)
    # Two results of exactly the same date across a page boundary.
    Result.objects.create(
        monitor=monitor, monitor_name="web", monitor_target="t", date=now - timedelta(minutes=9),
        scheduled_for=now, status=0,
    )  # fmt: skip

    seen, url = [], f"/api/monitors/{monitor.id}/results?max=10"
    while url:
        response = admin.get(url)
        assert response.status_code == 200
        seen.extend((result["date"], result["value"]) for result in response.json())
        link = response.headers.get("Link")
        url = None
        if link:
            target = link.split(";")[0].strip("<>")
            parts = urlsplit(target)
            assert parts.path == f"/api/monitors/{monitor.id}/results"
            url = f"{parts.path}?{parts.query}"

    assert len(seen) == 26
    assert len(set(seen)) == 26
    dates = [date for date, _ in seen]
    assert dates == sorted(dates, reverse=True)


def test_a_page_that_is_not_full_has_no_next_link(admin, make_monitor, now):
    add_results(make_monitor(), now, 3)

    response = admin.get("/api/results?max=10")

    assert "Link" not in response.headers


def test_the_next_link_carries_max_and_the_cursor(admin, make_monitor, now):
    results = add_results(make_monitor(), now, 3)

    link = admin.get("/api/results?max=2").headers["Link"]

    assert link.endswith('>; rel="next"')
    query = parse_qs(urlsplit(link.split(";")[0].strip("<>")).query)
    assert query["max"] == ["2"]
    assert query["before"] == [(now - timedelta(minutes=1)).isoformat()]
    assert query["before_id"] == [str(results[1].id)]


def test_before_alone_keeps_strictly_older_results(admin, make_monitor, now):
    add_results(make_monitor(), now, 5)

    body = admin.get("/api/results", {"before": "2026-11-21T11:58:00Z"}).json()

    assert [result["date"] for result in body] == ["2026-11-21T11:57:00Z", "2026-11-21T11:56:00Z"]


def test_a_before_date_with_an_offset_is_read_in_its_zone(admin, make_monitor, now):
    add_results(make_monitor(), now, 5)

    body = admin.get("/api/results", {"before": "2026-11-21T12:58:00+01:00"}).json()

    assert body[0]["date"] == "2026-11-21T11:57:00Z"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("before=yesterday", "before must be an RFC 3339 date"),
        ("before=2026-13-01T00:00:00Z", "before must be an RFC 3339 date"),
        ("before=0001-01-01T00:00:00%2B05:00", "before is out of range"),
        ("before=2026-01-01T00:00:00Z&before_id=x", "before_id must be a positive integer"),
        ("before=2026-01-01T00:00:00Z&before_id=99999999999999999999", "before_id must be"),
    ],
)
def test_bad_paging_parameters_are_a_400(admin, query, detail):
    response = admin.get(f"/api/results?{query}")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_deleting_all_results_keeps_monitors_and_their_state(admin, make_monitor, now):
    monitor = make_monitor()
    add_results(monitor, now, 3)
    MonitorState.objects.filter(monitor=monitor).update(last_status=0)

    response = admin.delete("/api/results")

    assert response.status_code == 204
    assert not Result.objects.exists()
    assert MonitorState.objects.get(monitor=monitor).last_status == 0


def test_the_latest_results_query_walks_an_index_and_counts_nothing(
    make_monitor, now, django_assert_num_queries
):
    monitor = make_monitor()
    add_results(monitor, now, 3)

    with django_assert_num_queries(1) as captured:
        results_latest(limit=2, monitor_id=monitor.id, before=now, before_id=10)

    sql = captured.captured_queries[0]["sql"]
    assert "COUNT" not in sql.upper()
    assert "LIMIT 2" in sql
    assert '"results_result"."date" <=' in sql  # where the index scan starts when paging


def test_integral_numbers_in_the_query_are_those_integers_and_empty_is_the_default(
    admin, make_monitor
):
    monitor = make_monitor(name="paged")
    for query in ("max=5.0", "max=5e0", "max=", "before=&before_id=", "before_id=7.0"):
        assert admin.get(f"/api/monitors/{monitor.id}/results?{query}").status_code == 200, query
    assert admin.get("/api/results?max=5.5").json()["detail"] == "max must be an integer"
