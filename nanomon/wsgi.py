"""WSGI entry point: ``gunicorn nanomon.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")
application = get_wsgi_application()
