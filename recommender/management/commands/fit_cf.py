from __future__ import annotations

from django.core.management.base import BaseCommand

from recommender.cf import refresh


class Command(BaseCommand):
    help = (
        "Refit collaborative filtering from the imported ratings: each film's co-liked films (import_movies "
        "does it after an import that changed ratings, unless --no-fit)."
    )

    def handle(self, *args, **options) -> None:
        fit = refresh(stdout=self.stderr._out)
        self.stdout.write(f"Collaborative filtering: {fit}.")
