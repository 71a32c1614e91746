"""``/api/``: the list of the API's routes, read as every other API read is."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


def test_the_root_lists_the_routes_by_name_with_their_urls(viewer):
    response = viewer.get("/api/")

    assert response.status_code == 200
    routes = response.json()
    assert routes["monitors"] == f"{BASE}/api/monitors"
    assert routes["monitor"] == f"{BASE}/api/monitors/{{id}}"
    assert routes["monitor-results"] == f"{BASE}/api/monitors/{{id}}/results"
    assert routes["monitors-import"] == f"{BASE}/api/monitors/import"
    assert routes["monitors-export"] == f"{BASE}/api/monitors/export"
    assert routes["monitors-test"] == f"{BASE}/api/monitors/test"
    assert routes["results"] == f"{BASE}/api/results"
    assert routes["schema"] == f"{BASE}/api/schema/"
    assert routes["docs"] == f"{BASE}/api/docs/"
    assert routes["health"] == f"{BASE}/api/health"
    assert routes["status"] == f"{BASE}/api/status"
    assert "api-root" not in routes


def test_every_route_listed_answers_and_every_route_of_the_schema_is_listed(viewer, anonymous):
    routes = viewer.get("/api/").json()

    for name, url in routes.items():
        if "{" not in url:
            assert viewer.get(url.removeprefix(BASE)).status_code != 404, name
    schema = anonymous.get("/api/schema/?format=json").json()
    listed = {url.removeprefix(BASE) for url in routes.values()}
    assert set(schema["paths"]) - {"/api/"} <= listed


def test_browsers_get_the_root_as_a_browsable_page_of_links(viewer):
    response = viewer.get("/api/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>NanoMon API</h1>" in page
    assert re.search(r'<a href="http://testserver/api/monitors"[^>]*>', page)
    assert re.search(r'<a href="http://testserver/api/results"[^>]*>', page)


def test_anonymous_reads_the_root_only_when_reads_are_public(anonymous, settings):
    response = anonymous.get("/api/")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    settings.NANOMON_PUBLIC_READ = True
    assert anonymous.get("/api/").status_code == 200


def test_the_root_is_read_only(admin, anonymous):
    assert admin.post("/api/", {}, format="json").status_code == 405
    assert admin.delete("/api/").status_code == 405
    assert anonymous.post("/api/", {}, format="json").status_code == 401


def test_the_about_page_links_to_the_root(viewer_user):
    client = Client()
    client.force_login(viewer_user)

    page = client.get("/about").content.decode()

    assert '<a href="/api/">' in page
    assert client.get("/api/").status_code == 200
