from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from catalog.changes import after_import
from catalog.models import Movie
from moviesite.progress import progress
from recommender.similar import KEPT_METHODS, warm_similar


class Command(BaseCommand):
    help = (
        "Compute and keep the similar lists of every method (default settings, as pages show them) of the most "
        "popular films (all by default), so they answer from the kept list; lists stay valid until the catalog "
        "changes or the co-liked lists are refitted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--method", nargs="+", choices=KEPT_METHODS, default=list(KEPT_METHODS))
        parser.add_argument("--films", type=int, help="Only the N most popular visible films.")
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="First refresh what an import refreshes: statistics, quality priors, TF-IDF vectors.",
        )

    def handle(self, *args, method: list[str], films: int | None, refresh: bool, **options) -> None:
        if films is not None and films < 1:
            raise CommandError("--films must be at least 1.")
        if refresh:
            for summary in after_import(stdout=self.stderr._out):
                self.stdout.write(summary)
        movies = Movie.objects.visible().with_details().filter(embedding__isnull=False).ordered()
        movies = list(movies[:films] if films else movies)
        for name in method:
            bar = progress(total=len(movies), desc=f"Warming {name}", file=self.stderr._out)
            computed = 0
            for start in range(0, len(movies), 50):
                chunk = movies[start : start + 50]
                computed += warm_similar(chunk, method=name)
                bar.update(len(chunk))
            bar.close()
            self.stdout.write(f"{name}: {computed} lists computed, {len(movies) - computed} were already kept.")
