"""Every page's URL. Three namespaces, as templates and tests name them: ``monitors`` (the
monitors page ``/``, the dashboard, a monitor's pages; ``/monitors/<id>`` is the page alert
e-mails link to), ``results`` and ``web`` (sign-in, about, the admin page ``/manage``:
Django's own admin keeps ``/admin/``). ``/live/…`` are the fragments the pages poll."""

from django.urls import include, path

from web.views import (
    alert_channels,
    alert_history,
    alerting,
    badges,
    charts,
    dashboard,
    dependencies,
    maintenance,
    manage,
    monitor_edit,
    monitors,
    results,
    site,
)

monitor_patterns = [
    path("", monitors.monitor_list, name="list"),
    path("monitors", monitors.monitor_list, name="list-alias"),
    path("dashboard", dashboard.dashboard, name="dashboard"),
    path("monitors/new", monitor_edit.monitor_new, name="new"),
    path("monitors/test", monitor_edit.monitor_test, name="test"),
    path("monitors/rule-check", monitor_edit.rule_check, name="rule-check"),
    path("monitors/<int:monitor_id>", monitors.monitor_detail, name="detail"),
    path("monitors/<int:monitor_id>/edit", monitor_edit.monitor_edit, name="edit"),
    path("monitors/<int:monitor_id>/delete", monitor_edit.monitor_delete_view, name="delete"),
    path("monitors/<int:monitor_id>/acknowledge", alerting.monitor_acknowledge, name="acknowledge"),
    path(
        "monitors/<int:monitor_id>/push-token",
        monitor_edit.monitor_push_token_view,
        name="push-token",
    ),
    path("live/monitors", monitors.monitor_list_live, name="list-live"),
    path("live/dashboard", dashboard.dashboard_live, name="dashboard-live"),
    path("live/monitors/<int:monitor_id>", monitors.monitor_detail_live, name="detail-live"),
]

result_patterns = [
    path("results", results.result_list, name="list"),
    path("live/results", results.result_list_live, name="list-live"),
]

web_patterns = [
    path("login", site.SignInView.as_view(), name="login"),
    path("logout", site.SignOutView.as_view(), name="logout"),
    path("about", site.about, name="about"),
    path("favicon.ico", site.favicon, name="favicon"),
    path("manage", manage.manage, name="manage"),
    path("manage/export", manage.export_monitors, name="export"),
    path("manage/import", manage.import_monitors, name="import"),
    path("manage/delete-monitors", manage.delete_all_monitors, name="delete-monitors"),
    path("manage/delete-results", manage.delete_all_results, name="delete-results"),
    path("alerts/active", alerting.alerts_active, name="alerts-active"),
    path("alerts/history", alert_history.alert_history, name="alert-history"),
    path("alerts/channels", alert_channels.channel_list, name="channels"),
    path("alerts/channels/new", alert_channels.channel_new, name="channel-new"),
    path("alerts/channels/<int:channel_id>/edit", alert_channels.channel_edit, name="channel-edit"),
    path("alerts/channels/<int:channel_id>/test", alert_channels.channel_test, name="channel-test"),
    path(
        "alerts/channels/<int:channel_id>/delete",
        alert_channels.channel_delete_view,
        name="channel-delete",
    ),
    path(
        "monitors/<int:monitor_id>/alerting",
        alert_history.monitor_alerting,
        name="monitor-alerting",
    ),
    path(
        "monitors/<int:monitor_id>/dependencies",
        dependencies.monitor_dependencies,
        name="monitor-dependencies",
    ),
    path("maintenance", maintenance.maintenance_list, name="maintenance"),
    path("maintenance/new", maintenance.maintenance_new, name="maintenance-new"),
    path("maintenance/<int:window_id>/edit", maintenance.maintenance_edit, name="maintenance-edit"),
    path(
        "maintenance/<int:window_id>/delete",
        maintenance.maintenance_delete,
        name="maintenance-delete",
    ),
]

# Images under /api/ (docs/api.md, Charts and Badges): the charts, and badges at Uptime Kuma's
# paths. Their errors are problems, as every /api/ route's.
image_patterns = [
    path(
        "api/monitors/<int:monitor_id>/chart.svg",
        charts.MonitorChartView.as_view(),
        name="monitor-chart",
    ),
    path("api/chart.svg", charts.ChartView.as_view(), name="chart"),
    path("api/badge/<str:monitor_id>/status", badges.StatusBadge.as_view(), name="badge-status"),
    path("api/badge/<str:monitor_id>/uptime", badges.UptimeBadge.as_view(), name="badge-uptime"),
    path("api/badge/<str:monitor_id>/uptime/<str:duration>", badges.UptimeBadge.as_view()),
    path("api/badge/<str:monitor_id>/ping", badges.PingBadge.as_view(), name="badge-ping"),
    path("api/badge/<str:monitor_id>/ping/<str:duration>", badges.PingBadge.as_view()),
    path(
        "api/badge/<str:monitor_id>/avg-response",
        badges.AverageResponseBadge.as_view(),
        name="badge-avg-response",
    ),
    path(
        "api/badge/<str:monitor_id>/avg-response/<str:duration>",
        badges.AverageResponseBadge.as_view(),
    ),
    path(
        "api/badge/<str:monitor_id>/cert-exp",
        badges.CertificateBadge.as_view(),
        name="badge-cert-exp",
    ),
    path(
        "api/badge/<str:monitor_id>/response",
        badges.ResponseBadge.as_view(),
        name="badge-response",
    ),
]

urlpatterns = [
    path("", include(([*web_patterns, *image_patterns], "web"))),
    path("", include((monitor_patterns, "monitors"))),
    path("", include((result_patterns, "results"))),
]
