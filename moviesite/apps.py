from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class MoviesiteConfig(AppConfig):
    name = "moviesite"
    verbose_name = "Site"

    def ready(self) -> None:
        if settings.DATABASES["default"]["ENGINE"] == "moviesite.db_backends.embedded":
            from moviesite.embedded_db import _handle_termination_signals

            # Here, in the main thread: the first connection may come from a server's worker thread, where
            # signal handlers cannot be set.
            _handle_termination_signals()
