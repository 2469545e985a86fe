"""WSGI entry point (gunicorn moviesite.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from moviesite.warmup import prepare_for_requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
application = get_wsgi_application()
prepare_for_requests()
