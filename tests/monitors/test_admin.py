"""The Django admin: monitors saved through the services, status shown, results read-only."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from monitors.models import Monitor
from results.models import MonitorState, Result

pytestmark = pytest.mark.django_db


def test_adding_a_monitor_keeps_the_name_verbatim_and_schedules_it_at_once(admin_client):
    response = admin_client.post(
        reverse("admin:monitors_monitor_add"),
        {
            "name": " padded name ",
            "kind": "http",
            "target": "http://127.0.0.1:8080/",
            "interval": "1.5h",
            "rule": "status == 200",
            "enabled": "on",
            "properties": '{"timeout": "2s"}',
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    monitor = Monitor.objects.get()
    assert monitor.name == " padded name "
    assert monitor.interval == "1.5h"
    assert monitor.interval_duration.total_seconds() == 5400
    assert monitor.next_run_at is not None
    assert MonitorState.objects.filter(monitor=monitor, consecutive_failures=0).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval", "30", "invalid monitor interval"),
        ("interval", "500ms", "monitor interval must be greater than 1s"),
        ("rule", "status ==", "rule invalid: "),
        ("properties", '{"timeout": "5"}', "property &#x27;timeout&#x27;"),
        ("target", "not a url", "invalid monitor target: must be an http:// or https:// URL"),
        ("rule", "stauts == 200", "rule invalid: &#x27;stauts&#x27; is not an output of type"),
        ("rule", "status + 1", "rule invalid: the rule gives a number, never true or false"),
    ],
)
def test_the_add_form_shows_the_contract_message_next_to_the_field(
    admin_client, field, value, message
):
    fields = {
        "name": "web",
        "kind": "http",
        "target": "http://127.0.0.1:8080/",
        "interval": "30s",
        "rule": "",
        "properties": "{}",
    }
    fields[field] = value

    response = admin_client.post(reverse("admin:monitors_monitor_add"), fields)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Monitor.objects.exists()


def test_the_monitor_list_shows_status_and_searches(admin_client, make_monitor, now):
    make_monitor(name="alpha")
    make_monitor(name="beta")

    response = admin_client.get(reverse("admin:monitors_monitor_changelist"), {"q": "alp"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "alpha" in page
    assert "beta" not in page
    assert "Unknown" in page


def test_results_are_read_only_in_the_admin(admin_client, make_monitor, now):
    monitor = make_monitor()
    result = Result.objects.create(
        monitor=monitor, monitor_name="web", monitor_target=monitor.target, date=now,
        scheduled_for=now, status=Result.Status.FAILED, message="connection refused",
    )  # fmt: skip

    listing = admin_client.get(reverse("admin:results_result_changelist"))
    change = admin_client.post(
        reverse("admin:results_result_change", args=[result.pk]), {"message": "edited"}
    )

    assert listing.status_code == 200
    assert "Failure" in listing.content.decode()
    assert admin_client.get(reverse("admin:results_result_add")).status_code == 403
    assert change.status_code == 403
    result.refresh_from_db()
    assert result.message == "connection refused"


def test_a_target_of_the_wrong_shape_is_refused_by_the_services_too(make_monitor):
    # NanoMon saved a tcp monitor on "example.net" and failed every run; here it never saves.
    with pytest.raises(ValidationError, match="invalid monitor target: missing port"):
        make_monitor(kind="tcp", target="example.net")

    assert not Monitor.objects.exists()
