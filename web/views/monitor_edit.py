"""A monitor's new and edit pages, its delete page, and the small endpoints behind the form:
"test now" (``/monitors/test``) and the rule checker (``/monitors/rule-check``). Writes go
through ``monitors.services`` (via ``MonitorForm.save``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from monitors.engine import CheckRequest
from monitors.models import Monitor
from monitors.oneoff import OneOffError, one_off_check
from monitors.probes import REGISTRY, is_passive
from monitors.secrets import masked_target
from monitors.selectors import monitor_get
from monitors.services import monitor_delete, push_token_rotate
from monitors.validation import UNSET_INTERVAL
from web.access import permission_required, read_required
from web.forms.monitor import DEFAULT_TEMPLATE, MONITOR_TEMPLATES, MonitorForm
from web.forms.rules import check_rule_text
from web.views.monitors import get_monitor

ADD, CHANGE, DELETE = "monitors.add_monitor", "monitors.change_monitor", "monitors.delete_monitor"


def _form_page(request: HttpRequest, form: MonitorForm, monitor: Monitor | None) -> HttpResponse:
    kind = form.selected_kind()
    context = {
        "form": form,
        "monitor": monitor,
        "selected_kind": kind,
        "templates": [
            (name, template["title"], REGISTRY[name].label)
            for name, template in MONITOR_TEMPLATES.items()
        ],
        "probe_types": list(REGISTRY.values()),
        "rule_examples": {name: t["rule_examples"] for name, t in MONITOR_TEMPLATES.items()},
        "rule_check": check_rule_text(str(form["rule"].value() or ""), kind),
    }
    # 200 with the errors on the page, as Django's own form views answer.
    return render(request, "monitors/monitor_form.html", context)


@require_http_methods(["GET", "POST"])
@permission_required(ADD)
def monitor_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = MonitorForm(request.POST)
        if form.is_valid():
            try:
                monitor = form.save()
            except ValidationError:
                return _form_page(request, form, None)
            messages.success(request, f"Monitor “{monitor.name}” created: it runs now.")
            return redirect("monitors:detail", monitor_id=monitor.id)
        return _form_page(request, form, None)
    template = request.GET.get("template", DEFAULT_TEMPLATE)
    if template not in MONITOR_TEMPLATES:
        template = DEFAULT_TEMPLATE
    form = MonitorForm(initial=MonitorForm.initial_from_template(template))
    return _form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@permission_required(CHANGE)
def monitor_edit(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = get_monitor(monitor_id)
    if request.method == "POST":
        form = MonitorForm(request.POST, instance=monitor)
        if form.is_valid():
            try:
                monitor = form.save()
            except ValidationError:
                return _form_page(request, form, monitor)
            except Monitor.DoesNotExist:  # deleted while the form was being sent
                messages.error(request, f"Monitor “{monitor.name}” was deleted: nothing saved.")
                return redirect("monitors:list")
            messages.success(request, f"Monitor “{monitor.name}” saved: it runs now.")
            return redirect("monitors:detail", monitor_id=monitor.id)
        return _form_page(request, form, monitor)
    return _form_page(request, MonitorForm(instance=monitor), monitor)


@require_http_methods(["GET", "POST"])
@permission_required(DELETE)
def monitor_delete_view(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = get_monitor(monitor_id)
    if request.method == "POST":
        name = monitor.name
        if monitor_delete(monitor):
            messages.success(request, f"Monitor “{name}” and its results were deleted.")
        else:
            messages.info(request, f"Monitor “{name}” had already been deleted.")
        return redirect("monitors:list")
    return render(request, "monitors/monitor_confirm_delete.html", {"monitor": monitor})


@require_POST
@permission_required(CHANGE)
def monitor_push_token_view(request: HttpRequest, monitor_id: int) -> HttpResponse:
    """Give a push monitor a new token (its old URLs answer 404 from now on)."""
    monitor = get_monitor(monitor_id)
    if monitor.push_token:
        push_token_rotate(monitor)
        messages.success(request, "New push token: the old URLs no longer work.")
    return redirect("monitors:detail", monitor_id=monitor.id)


# --- Test now and the rule checker ---------------------------------------------------------------


@require_POST
@permission_required(ADD, CHANGE)
def monitor_test(request: HttpRequest) -> HttpResponse:
    """Run the form's current definition once on a worker, store nothing, answer the result
    fragment (a failure to test, too, is a fragment that says why: htmx swaps only 2xx)."""
    data = request.POST.copy()
    # A one-off check needs neither a name nor an interval.
    data["name"] = data.get("name") or "test"
    data["interval"] = data.get("interval") or UNSET_INTERVAL
    instance = None
    # Editing: masked secrets sent back take the stored values, for people who may see them.
    if request.POST.get("monitor_id", "").isdigit() and request.user.has_perm(CHANGE):
        try:
            instance = monitor_get(int(request.POST["monitor_id"]))
        except Monitor.DoesNotExist:
            instance = None
    form = MonitorForm(data, instance=instance)
    context: dict[str, object] = {"errors": [], "result": None}
    if not form.is_valid():
        context["errors"] = [
            f"{'' if name == '__all__' else _field_label(form, name) + ': '}{message}"
            for name, messages_ in form.errors.items()
            for message in messages_
        ]
        return render(request, "monitors/_test_result.html", context)
    definition = form.definition()
    if is_passive(definition["kind"]):
        context["errors"] = ["A push monitor is not probed: it waits for its job's pings."]
        return render(request, "monitors/_test_result.html", context)
    check = CheckRequest(
        kind=definition["kind"],
        target=definition["target"],
        properties=definition["properties"],
        rule=definition["rule"],
    )
    try:
        # On a worker: this request only waits (NANOMON_TEST_TIMEOUT at most) for its result.
        result = one_off_check(check, user_id=request.user.pk)
    except OneOffError as error:
        context["errors"] = [str(error)]
        return render(request, "monitors/_test_result.html", context)
    # The target as typed, but never its credentials (user info, ?token=…) in the page.
    context.update(result=result, kind=check.kind, target=masked_target(check.target))
    return render(request, "monitors/_test_result.html", context)


def _field_label(form: MonitorForm, name: str) -> str:
    field = form.fields.get(name)
    return str(field.label or name) if field is not None else name


@require_GET
@read_required
def rule_check(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    check = check_rule_text(request.GET.get("rule", "")[:5000], kind)
    return render(request, "monitors/_rule_check.html", {"rule_check": check})
