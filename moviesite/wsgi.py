"""WSGI entry point (gunicorn moviesite.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from moviesite.warmup import prepare_for_requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
# A web server: its connections start with the public statement limit (settings.CONNECTION_STATEMENT_TIMEOUT_MS).
# Management commands never import this module, so theirs have none. MOVIESITE_WEB_SERVER=0 keeps SET LOCAL.
os.environ.setdefault("MOVIESITE_WEB_SERVER", "1")
application = get_wsgi_application()
prepare_for_requests()
