from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from catalog.changes import after_import
from catalog.models import LexemeStat, Movie
from catalog.search import FIELD_LENGTH_WORDS, refresh_lexeme_stats
from recommender.models import TfidfVocabulary

DEMO_CATALOG = settings.BASE_DIR / "fixtures" / "demo_movies.csv"


class Command(BaseCommand):
    help = "First-run set-up for `make run`: load the demo catalog into an empty database, create an admin login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-embed", action="store_true", help="Load the demo catalog without vectors.")

    def handle(self, *args, no_embed: bool, **options) -> None:
        if Movie.objects.exists():
            self.stdout.write(f"Catalog has {Movie.objects.count()} films; demo catalog not loaded.")
            # A catalog imported before keyword search kept statistics (or before issue 5's quality priors
            # and TF-IDF vectors) gets them as an import would have left them.
            if not LexemeStat.objects.exists() or not TfidfVocabulary.objects.exists():
                for summary in after_import(stdout=self.stdout._out):
                    self.stdout.write(summary)
            elif not LexemeStat.objects.filter(word__in=FIELD_LENGTH_WORDS.values()).exists():
                refresh_lexeme_stats()  # statistics kept before they held field lengths (issue 13)
        else:
            self.stdout.write(f"Empty catalog: loading the demo catalog from {DEMO_CATALOG.name}...")
            # The raw streams, so the progress bar can redraw its line in place.
            call_command(
                "import_movies", DEMO_CATALOG, no_embed=no_embed, stdout=self.stdout._out, stderr=self.stderr._out
            )

        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@localhost", password)
            self.stdout.write(self.style.WARNING(f"Admin login created (shown once): admin / {password}"))
