from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """Backup and restore (docs/backup.md): /api/backup, /api/backup_full and the backup and
    restore commands. No models: it reads and writes the monitors', results' and alerts'."""

    name = "backups"
    verbose_name = "Backup and restore"
