"""Groups as sections of the monitors page and the dashboard; group and tags in the form; the
tag filter on the page."""

from __future__ import annotations

import re

import pytest

from monitors.models import Monitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def grouped(make_monitor):
    for name, group, tags in [("web-b", "Web", ["prod"]), ("web-a", "Web", ["staging"]),
                              ("db", "Databases", ["prod"]), ("lonely", "", [])]:  # fmt: skip
        monitor = make_monitor(name=name)
        Monitor.objects.filter(pk=monitor.pk).update(group=group, tags=tags)


def section_order(html: str) -> list[str]:
    return re.findall(r'<h2 class="group-heading">([^<]*)</h2>', html)


def test_the_monitors_page_shows_groups_as_sections(grouped, viewer):
    page = viewer.get("/").content.decode()
    assert section_order(page) == ["Databases", "Web", "No group"]
    assert (
        page.index('data-name="db"')
        < page.index("Web</h2>")
        < page.index('data-name="web-a"')
        < page.index('data-name="web-b"')
    )
    assert (
        page.index('data-name="web-b"') < page.index("No group") < page.index('data-name="lonely"')
    )


def test_the_dashboard_too(grouped, viewer):
    page = viewer.get("/dashboard").content.decode()
    assert section_order(page) == ["Databases", "Web", "No group"]


def test_no_sections_without_groups(make_monitor, viewer):
    make_monitor(name="solo")
    assert section_order(viewer.get("/").content.decode()) == []


def test_the_tag_filter_on_the_page(grouped, viewer):
    page = viewer.get("/?tag=prod").content.decode()
    assert 'data-name="db"' in page
    assert 'data-name="web-b"' in page
    assert 'data-name="web-a"' not in page
    assert 'value="prod"' in page
    warned = viewer.get("/?tag=bad!", follow=True).content.decode()
    assert "Filter tag ignored" in warned


def test_the_form_saves_group_and_tags(editor):
    response = editor.post(
        "/monitors/new",
        {"name": "api", "kind": "tcp", "target": "127.0.0.1:9", "interval": "30s",
         "enabled": "on", "group": "Backends", "tags": "prod, eu  prod",
         "prop__tcp__timeout": "5s"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    monitor = Monitor.objects.get(name="api")
    assert (monitor.group, monitor.tags) == ("Backends", ["eu", "prod"])
    edit = editor.get(f"/monitors/{monitor.id}/edit").content.decode()
    assert 'value="eu, prod"' in edit
    refused = editor.post(
        "/monitors/new",
        {"name": "x", "kind": "tcp", "target": "127.0.0.1:9", "interval": "30s",
         "tags": "no!good"},
    )  # fmt: skip
    assert "is not valid" in refused.content.decode()
