"""Signals of the alerts app, for the apps above it (alerts imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# A delivery attempt was recorded: sent inside the transaction that records it, with the
# Channel class as sender and ``kind`` (the channel's kind, e.g. "email") and ``succeeded``.
# The metrics app counts them (nanomon_notifications_sent_total / _failed_total).
delivery_attempted = Signal()
