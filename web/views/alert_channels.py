"""Alert channels (``/alerts/channels``): the list with each channel's health (failing ones
highlighted), a form per kind built from the kind's declared settings, a test button, and
deleting with a confirmation. Secrets are write-only: the form shows them masked and a blank
one keeps what is stored. Writes need the channel model permissions (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import selectors
from alerts.channels import REGISTRY
from alerts.configuration import channel_delete, channel_save
from alerts.delivery import channel_send_test
from alerts.forms import ChannelForm, config_field_name
from alerts.models import Channel
from alerts.previews import EVENTS, channel_preview
from web.access import permission_required, read_required

ADD, CHANGE, DELETE = "alerts.add_channel", "alerts.change_channel", "alerts.delete_channel"


@require_GET
@read_required
def channel_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "channel": channel,
            "summary": selectors.channel_summary(channel),
            "health": selectors.channel_health(channel),
        }
        for channel in Channel.objects.all()
    ]
    failing = [row for row in rows if row["health"].state == "failing"]
    return render(request, "web/channel_list.html", {"rows": rows, "failing": failing})


def _kind_sections(form: ChannelForm, channel: Channel | None) -> list[dict]:
    """The form's per-kind settings: every kind for a new channel, its own kind otherwise."""
    if form.is_builtin:
        return []
    sections = []
    for kind, transport in REGISTRY.items():
        if channel is not None and kind != channel.kind:
            continue
        fields = [form[config_field_name(kind, spec.name)] for spec in transport.fields]
        sections.append({"kind": kind, "label": transport.label, "fields": fields})
    return sections


def _form_page(request: HttpRequest, channel: Channel | None, *, title: str) -> HttpResponse:
    form = ChannelForm(request.POST or None, instance=channel)
    if channel is not None:
        form.fields["kind"].disabled = True  # another kind: a new channel
        form.fields["kind"].help_text = "To change the kind, create a new channel."
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        try:
            channel_save(saved, config=None if form.is_builtin else form.cleaned_config)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Channel “{saved.name}” saved.")
            return redirect("web:channels")
    context = {
        "form": form,
        "channel": channel,
        "title": title,
        "sections": _kind_sections(form, channel),
        "public_config": selectors.channel_public_config(channel) if channel else {},
        "previews": _previews(channel),
    }
    return render(request, "web/channel_form.html", context)


def _previews(channel: Channel | None) -> list[dict]:
    """Each event's sample message as the saved channel sends it (its templates)."""
    if channel is None:
        return []
    now = timezone.now()
    previews = []
    for event in EVENTS:
        subject, body = channel_preview(channel, event, now=now)
        previews.append({"event": event, "subject": subject, "body": body})
    return previews


@require_http_methods(["GET", "POST"])
@permission_required(ADD)
def channel_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None, title="New alert channel")


@require_http_methods(["GET", "POST"])
@permission_required(CHANGE)
def channel_edit(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    return _form_page(request, channel, title=f"Edit {channel.name}")


@require_POST
@permission_required(CHANGE)
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    outcome = channel_send_test(channel)
    if outcome.succeeded:
        messages.success(request, f"{channel.name}: test notification sent.")
    else:
        messages.error(request, f"{channel.name}: test failed: {outcome.error}")
    return redirect("web:channels")


@require_http_methods(["GET", "POST"])
@permission_required(DELETE)
def channel_delete_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=channel_id)
    if request.method == "POST":
        try:
            channel_delete(channel)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Channel “{channel.name}” deleted.")
        return redirect("web:channels")
    return render(request, "web/channel_confirm_delete.html", {"channel": channel})
