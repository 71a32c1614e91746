"""The browsable API, with a DELETE button that says what it deletes.

DRF's button asks "Are you sure you want to delete this Monitor?" on every route that takes a
DELETE. On ``/api/monitors`` and ``/api/results`` a DELETE deletes the whole collection (every
monitor and every result), so there a view's ``delete_confirmation()`` gives the words instead:
the button, its tooltip and the confirmation dialog say what will be gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import renderers


@dataclass(frozen=True)
class DeleteConfirmation:
    """What the browsable API's DELETE button and its confirmation dialog say."""

    question: str  # the dialog's heading: "Delete ALL 3 monitors and all their results?"
    detail: str  # one line under it
    button: str  # the button that sends the DELETE
    title: str  # the tooltip of the button that opens the dialog


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API; a view's ``delete_confirmation()`` (when it answers one) replaces
    DRF's DELETE button and dialog. Shown only to those who may send the DELETE, as DRF's."""

    template = "rest_framework/nanomon_api.html"

    def get_context(self, data, accepted_media_type, renderer_context) -> dict[str, object]:
        context = super().get_context(data, accepted_media_type, renderer_context)
        confirm = getattr(renderer_context["view"], "delete_confirmation", None)
        confirmation = confirm() if context.get("delete_form") and confirm else None
        if confirmation is not None:
            context["delete_form"] = None  # DRF's "delete this Monitor?" is not drawn
            context["delete_all"] = confirmation
        return context


RENDERER_CLASSES = [renderers.JSONRenderer, BrowsableAPIRenderer]
