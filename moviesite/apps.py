from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class MoviesiteConfig(AppConfig):
    name = "moviesite"
    verbose_name = "Site"

    def ready(self) -> None:
        # A deploy runs `migrate`: its new code may answer differently, so no answer kept by the old code is
        # served after it (catalog/api/answers.py).
        post_migrate.connect(forget_kept_answers, sender=self)
        if settings.DATABASES["default"]["ENGINE"] == "moviesite.db_backends.embedded":
            from moviesite.embedded_db import _handle_termination_signals

            # Here, in the main thread: the first connection may come from a server's worker thread, where
            # signal handlers cannot be set.
            _handle_termination_signals()


def forget_kept_answers(using: str, **kwargs) -> None:
    from moviesite.models import CachedAnswer

    CachedAnswer.objects.using(using).all().delete()
