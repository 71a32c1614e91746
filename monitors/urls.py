"""The monitor pages. ``/monitors/<id>`` is the page alert e-mails link to
(``ALERT_LINK_BASEURL`` + ``/monitors/<id>``). ``/live/…`` are the fragments the pages poll."""

from django.urls import path

from monitors import views

app_name = "monitors"

urlpatterns = [
    path("", views.monitor_list, name="list"),
    path("monitors", views.monitor_list, name="list-alias"),
    path("dashboard", views.dashboard, name="dashboard"),
    path("monitors/new", views.monitor_new, name="new"),
    path("monitors/test", views.monitor_test, name="test"),
    path("monitors/rule-check", views.rule_check, name="rule-check"),
    path("monitors/<int:monitor_id>", views.monitor_detail, name="detail"),
    path("monitors/<int:monitor_id>/edit", views.monitor_edit, name="edit"),
    path("monitors/<int:monitor_id>/delete", views.monitor_delete_view, name="delete"),
    path("live/monitors", views.monitor_list_live, name="list-live"),
    path("live/dashboard", views.dashboard_live, name="dashboard-live"),
    path("live/monitors/<int:monitor_id>", views.monitor_detail_live, name="detail-live"),
]
