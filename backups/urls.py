"""The backup routes, under /api/ (gosrvmon's paths, no trailing slash)."""

from django.urls import path

from backups.views import BackupView, FullBackupView

urlpatterns = [
    path("backup", BackupView.as_view(), name="backup"),
    path("backup_full", FullBackupView.as_view(), name="backup_full"),
]
