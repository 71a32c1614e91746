"""The ping URLs of push monitors (loop/views.py, docs/push.md)."""

from django.urls import path

from loop import views

urlpatterns = [
    path("ping/<slug:token>", views.ping_success, name="ping"),
    path("ping/<slug:token>/fail", views.ping_fail, name="ping-fail"),
    path("ping/<slug:token>/start", views.ping_start, name="ping-start"),
    path("ping/<slug:token>/<int:code>", views.ping_exit, name="ping-exit"),
    path("api/push/<slug:token>", views.kuma_push, name="kuma-push"),
]
