"""The monitors page and a monitor's page (web/views/monitors.py), their live fragments, the
read pages' query counts, escaping and times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.status import Status
from monitors.models import Monitor
from tests.web.conftest import add_results
from tests.web.views.conftest import monitors_with_history, names_in_order
from web.views import monitors as monitor_views

XSS = "<script>alert(1)</script>"


# --- Query counts: no N+1 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/live/monitors", "/dashboard", "/live/dashboard", "/results", "/live/results"],
)
def test_list_pages_make_the_same_few_queries_for_1_or_30_monitors(
    editor, make_monitor, start, django_assert_max_num_queries, path
):
    monitors_with_history(make_monitor, start, 1)
    editor.get(path)  # warm the session and permission caches of the first request
    # At most 8, plus the dashboard's health banner (the loop's state: one query) and its
    # tiles' 24-hour uptime (one query over the rollups).
    most = 10 if "dashboard" in path else 8
    with django_assert_max_num_queries(most) as one:
        assert editor.get(path).status_code == 200
    monitors_with_history(make_monitor, start - timedelta(days=1), 29)
    with django_assert_max_num_queries(most) as thirty:
        assert editor.get(path).status_code == 200
    assert len(thirty.captured_queries) == len(one.captured_queries)


def test_the_monitors_page_queries(editor, make_monitor, start, django_assert_num_queries):
    """Session, user, the editor's permissions (2), the count for the pager, monitors with
    state, sparklines, the cards' 24-hour uptime (rollups)."""
    monitors_with_history(make_monitor, start, 5)
    with django_assert_num_queries(8):
        editor.get("/")


def test_the_detail_page_queries(editor, make_monitor, start, django_assert_num_queries):
    """Session, user, permissions (2), monitor with state, latest 50, uptime, the chart's
    runs (24 hours by default), its outage if down (the alert panel), the maintenance windows
    covering it now, and those to mark results run during one."""
    monitor = monitors_with_history(make_monitor, start, 1)[0]
    with django_assert_num_queries(11):
        assert editor.get(f"/monitors/{monitor.id}").status_code == 200


# --- Monitors page -------------------------------------------------------------------------------


def test_the_monitors_page_shows_a_card_per_monitor(viewer, make_monitor, start):
    up = make_monitor(name="up", target="https://up.example.net/")
    add_results(up, [Status.OK] * 30, start=start)
    down = make_monitor(name="down", kind="tcp", target="db.example.net:5432")
    add_results(down, [Status.FAILED], start=start)
    make_monitor(name="new", kind="ping", target="192.0.2.1")
    make_monitor(name="off", kind="dns", target="example.net", enabled=False)
    page = viewer.get("/").content.decode()
    for name, label in (
        ("up", "Good"),
        ("down", "Failure"),
        ("new", "Unknown"),
        ("off", "Disabled"),
    ):
        assert f'data-name="{name}"' in page
        assert f'<span class="pill status-{label.lower()}">{label}</span>' in page
    assert "https://up.example.net/" in page
    assert page.count('<svg class="sparkline"') == 2  # the two monitors that ran
    assert page.count("No runs yet") == 2
    assert "#icon-tcp" in page
    assert "ago</time>" in page


def test_the_sparkline_draws_the_last_20_values(viewer, make_monitor, start):
    monitor = make_monitor(name="up")
    add_results(monitor, [Status.OK] * 25 + [Status.ERROR], start=start)
    page = viewer.get("/").content.decode()
    points = page.split('<polyline class="spark-line" points="')[1].split('"')[0]
    assert len(points.split()) == 20
    assert 'class="spark-marker status-error"' in page


def test_the_monitors_page_filters_by_text_status_and_type(viewer, make_monitor, start):
    add_results(make_monitor(name="alpha"), [Status.OK], start=start)
    add_results(make_monitor(name="beta", kind="tcp", target="b:1"), [Status.ERROR], start=start)
    make_monitor(name="gamma", enabled=False)

    def names(query: str) -> list[str]:
        page = viewer.get(f"/?{query}").content.decode()
        return [name for name in ("alpha", "beta", "gamma") if f'data-name="{name}"' in page]

    assert names("q=ALP") == ["alpha"]
    assert names("status=error") == ["beta"]
    assert names("status=disabled") == ["gamma"]
    assert names("type=tcp") == ["beta"]
    assert names("status=bogus") == ["alpha", "beta", "gamma"]
    assert "No monitor matches these filters" in viewer.get("/?q=zzz").content.decode()


@pytest.mark.parametrize("path", ["/", "/live/monitors"])
def test_a_search_with_a_nul_character_is_a_search_not_an_error(viewer, make_monitor, path):
    make_monitor(name="alpha")
    response = viewer.get(f"{path}?q=al%00pha")
    assert response.status_code == 200
    assert 'data-name="alpha"' in response.content.decode()


def test_the_monitors_page_shows_a_page_of_cards_and_links_keeping_the_filters(
    viewer, make_monitor, monkeypatch
):
    monkeypatch.setattr(monitor_views, "CARDS_PER_PAGE", 2)
    for name in ("web a", "web b", "web c", "other"):
        make_monitor(name=name)

    first = viewer.get("/?q=web").content.decode()
    last = viewer.get("/?q=web&page=2").content.decode()

    assert names_in_order(first, "card") == ["web a", "web b"]
    assert names_in_order(last, "card") == ["web c"]
    assert "Monitors 1–2 of 3 · page 1 of 2" in first
    assert "3 monitors</p>" in first
    assert 'href="/?q=web&amp;page=2" rel="next"' in first
    assert 'href="/?q=web&amp;page=1" rel="prev"' in last
    assert 'rel="next"' not in last


@pytest.mark.parametrize("page", ["0", "-1", "x", "99999999999999999999", "1e3"])
def test_a_bad_or_past_the_end_page_number_shows_the_nearest_page(viewer, make_monitor, page):
    make_monitor(name="only")
    response = viewer.get(f"/?page={page}")
    assert response.status_code == 200
    assert names_in_order(response.content.decode(), "card") == ["only"]


def test_one_page_of_monitors_has_no_pager(viewer, make_monitor):
    make_monitor(name="only")
    assert 'class="pager"' not in viewer.get("/").content.decode()


def test_the_live_fragment_keeps_the_filters(viewer, make_monitor):
    make_monitor(name="alpha")
    page = viewer.get("/?q=alp&refresh=2").content.decode()
    assert 'hx-get="/live/monitors?q=alp&amp;refresh=2"' in page
    assert 'data-refresh="2"' in page


def test_an_empty_install_says_what_to_do(editor, viewer):
    assert "Create your first monitor" in editor.get("/").content.decode()
    page = viewer.get("/").content.decode()
    assert "No monitors yet" in page
    assert "ask an administrator" in page


# --- Detail --------------------------------------------------------------------------------------


def test_the_detail_page_shows_everything_about_a_monitor(viewer, make_monitor, start):
    monitor = make_monitor(
        name="site",
        target="https://example.net/health",
        rule="status == 200",
        properties={"timeout": "3s"},
    )
    add_results(monitor, [Status.OK] * 3 + [Status.ERROR], start=start)
    page = viewer.get(f"/monitors/{monitor.id}").content.decode()
    for text in (
        "HTTP <code>http</code>",
        'href="https://example.net/health"',
        "status == 200",
        "<code>3s</code>",  # a property given
        "GET (default)",  # a property left to its default
        "problem 3",  # the last message
        "<code>respTime</code>",  # the last outputs
        '<path class="chart-line"',
        "Uptime over 24 hours: 75 %",
        "12.5 ms",  # the values have their unit
        "Latest results",
        "30s",
    ):
        assert text in page, text


def test_the_detail_page_pages_through_older_results(viewer, make_monitor, start):
    monitor = make_monitor(name="busy")
    add_results(monitor, [Status.OK] * 60, start=start)
    page = viewer.get(f"/monitors/{monitor.id}").content.decode()
    assert page.count('data-label="Time"') == 50
    older = page.split('href="/monitors/')[-1]
    link = "/monitors/" + older.split('"')[0].replace("&amp;", "&")
    assert "before=" in link
    older_page = viewer.get(link).content.decode()
    assert "Older results" in older_page
    assert older_page.count('data-label="Time"') == 10  # no live table on an older page
    assert "Newest results" in older_page


def test_the_detail_page_ignores_a_bad_cursor(viewer, make_monitor):
    monitor = make_monitor(name="m")
    for query in ("before=nope&before_id=1", "before=2026-01-01T00:00:00&before_id=x"):
        assert viewer.get(f"/monitors/{monitor.id}?{query}").status_code == 200


def test_a_bad_cursor_shows_the_newest_results_and_says_why(viewer, make_monitor, start):
    monitor = make_monitor(name="m")
    add_results(monitor, [Status.OK] * 3, start=start)
    page = viewer.get(f"/monitors/{monitor.id}?before=nope&before_id=1").content.decode()
    assert "Showing the newest results: before must be an RFC 3339 date" in page
    assert page.count('data-label="Time"') == 3
    live = viewer.get(f"/live/monitors/{monitor.id}?before=nope").content.decode()
    assert "Showing the newest results" not in live


def test_a_non_http_target_is_never_a_link(viewer, make_monitor):
    monitor = make_monitor(name="m")
    # Saving refuses such a target now; a row stored before that check may still hold one.
    Monitor.objects.filter(pk=monitor.pk).update(target="javascript:alert(1)")
    page = viewer.get(f"/monitors/{monitor.id}").content.decode()
    assert 'href="javascript:' not in page
    assert "<code>javascript:alert(1)</code>" in page


def test_the_detail_fragment_of_a_deleted_monitor_goes_back_to_the_list(viewer):
    response = viewer.get("/live/monitors/12345", headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == "/"


def test_an_unknown_or_huge_monitor_id_is_a_404(viewer):
    assert viewer.get("/monitors/0").status_code == 404
    assert viewer.get("/monitors/99999999999999999999999").status_code == 404


# --- Escaping ------------------------------------------------------------------------------------


def test_a_monitor_named_like_a_script_renders_as_text_everywhere(admin, make_monitor, start):
    monitor = make_monitor(
        name=XSS,
        target=f"https://example.net/{XSS}",
        rule="status == '<b>'",
        properties={"body": XSS, "headers": '{"X-Test": "<img src=x onerror=alert(1)>"}'},
    )
    results = add_results(monitor, [Status.OK, Status.ERROR], start=start)
    results[-1].message = XSS
    results[-1].save()
    for path in (
        "/",
        "/live/monitors",
        "/dashboard",
        "/live/dashboard",
        f"/monitors/{monitor.id}",
        f"/live/monitors/{monitor.id}?table=1",
        f"/monitors/{monitor.id}/edit",
        f"/monitors/{monitor.id}/delete",
        "/results",
        "/live/results",
        f"/monitors/rule-check?kind=http&rule={XSS}",
    ):
        page = admin.get(path).content.decode()
        assert "<script>alert" not in page, path
        assert "<img src=x" not in page, path
        assert "<b>'" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin.get("/").content.decode()


# --- Times ---------------------------------------------------------------------------------------


def test_times_render_in_the_viewers_zone_from_the_cookie(viewer, make_monitor, start):
    monitor = make_monitor(name="m")
    add_results(monitor, [Status.OK], start=start.replace(hour=10, minute=0, second=0))
    viewer.cookies["nanomon_tz"] = "Asia/Tokyo"
    page = viewer.get(f"/monitors/{monitor.id}").content.decode()
    assert "19:00:00 JST" in page
    assert 'data-timezone="Asia/Tokyo"' in page
    viewer.cookies["nanomon_tz"] = "Not/AZone"
    page = viewer.get(f"/monitors/{monitor.id}").content.decode()
    assert "10:00:00 UTC" in page
