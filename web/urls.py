"""Sign-in, about and the admin page (``/manage``: Django's own admin keeps ``/admin/``)."""

from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("login", views.SignInView.as_view(), name="login"),
    path("logout", views.SignOutView.as_view(), name="logout"),
    path("about", views.about, name="about"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("manage", views.manage, name="manage"),
    path("manage/export", views.export_monitors, name="export"),
    path("manage/import", views.import_monitors, name="import"),
    path("manage/delete-monitors", views.delete_all_monitors, name="delete-monitors"),
    path("manage/delete-results", views.delete_all_results, name="delete-results"),
]
