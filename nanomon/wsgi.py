"""WSGI entry point: ``gunicorn nanomon.wsgi``."""

import gc
import logging
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")
application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # every view, now rather than on the first request

from metrics.views import unprotected_metrics_warning  # noqa: E402  (needs the apps set up)

if warning := unprotected_metrics_warning():
    logging.getLogger("metrics").warning(warning)

# What is loaded by now lives as long as the process: move it out of the collector's reach.
# Full collections otherwise walked ~135,000 such objects, a pause of ~130 ms in one request
# in twenty on the dashboard (bench/README.md, read path).
gc.freeze()
