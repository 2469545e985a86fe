from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from catalog.models import LexemeStat, Movie
from catalog.querysets import refresh_lexeme_stats
from recommender.models import TfidfVocabulary
from recommender.quality import refresh_quality
from recommender.tfidf import fit_tfidf

DEMO_CATALOG = settings.BASE_DIR / "fixtures" / "demo_movies.csv"


class Command(BaseCommand):
    help = "First-run set-up for `make run`: load the demo catalog into an empty database, create an admin login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-embed", action="store_true", help="Load the demo catalog without vectors.")

    def handle(self, *args, no_embed: bool, **options) -> None:
        if Movie.objects.exists():
            self.stdout.write(f"Catalog has {Movie.objects.count()} films; demo catalog not loaded.")
            if not LexemeStat.objects.exists():  # a catalog imported before keyword search kept statistics
                refresh_lexeme_stats()
            if not TfidfVocabulary.objects.exists():  # nor quality priors and TF-IDF vectors before issue 5
                refresh_quality()
                fit_tfidf(stdout=self.stdout._out)
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
