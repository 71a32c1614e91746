"""Group and tags: checked in one place, filtered by in the API and on the monitors page."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from monitors.tags import MAX_TAGS, tags_normalized
from tests.support.api import http_monitor

pytestmark = pytest.mark.django_db


def test_tags_are_sorted_without_repeats_and_checked():
    assert tags_normalized(["prod", "db", "prod"]) == ["db", "prod"]
    assert tags_normalized("prod, db  eu-west/1") == ["db", "eu-west/1", "prod"]
    assert tags_normalized(None) == []
    with pytest.raises(ValueError, match="tag 'bad tag!' is not valid"):
        tags_normalized(["bad tag!"])
    with pytest.raises(ValueError, match=f"at most {MAX_TAGS} tags"):
        tags_normalized([f"t{i}" for i in range(MAX_TAGS + 1)])
    with pytest.raises(ValueError, match="list of strings"):
        tags_normalized([1])


def test_the_api_stores_them_and_filters_by_them(admin):
    for name, group, tags in [("a", "Web", ["prod", "eu"]), ("b", "Web", ["prod"]),
                              ("c", "", ["prod-eu"]), ("d", "DB", [])]:  # fmt: skip
        body = http_monitor(name=name, group=group, tags=tags)
        assert admin.post("/api/monitors", body, format="json").status_code == 200

    def names(query: str) -> list[str]:
        response = admin.get(f"/api/monitors?{query}")
        assert response.status_code == 200, response.content
        return sorted(monitor["name"] for monitor in response.json())

    assert names("tag=prod") == ["a", "b"]  # not prod-eu
    assert names("tag=prod,eu") == ["a"]
    assert names("group=Web") == ["a", "b"]
    assert names("group=DB&tag=prod") == []
    assert admin.get("/api/monitors?tag=bad!").status_code == 400
    listed = {m["name"]: (m["group"], m["tags"]) for m in admin.get("/api/monitors").json()}
    assert listed["a"] == ("Web", ["eu", "prod"])


def test_bad_group_or_tags_are_refused_naming_them(admin, make_monitor):
    refused = admin.post("/api/monitors", http_monitor(tags="prod"), format="json")
    assert refused.status_code == 400
    assert "tags must be a list of strings" in refused.content.decode()
    refused = admin.post("/api/monitors", http_monitor(group="a\nb"), format="json")
    assert refused.status_code == 400
    assert "group must be one line of text" in refused.content.decode()
    with pytest.raises(ValidationError, match="not valid"):
        make_monitor(tags=["no spaces allowed"])
