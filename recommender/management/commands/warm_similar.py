from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Movie
from moviesite.progress import progress
from recommender.quality import refresh_quality
from recommender.similar import warm_similar
from recommender.tfidf import fit_tfidf


class Command(BaseCommand):
    help = (
        "Compute and keep the svm and tfidf similar lists (default settings, as pages show them) of the most "
        "popular films (all by default), so they answer from the kept list; lists stay valid until the catalog "
        "changes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--method", nargs="+", choices=["svm", "tfidf"], default=["svm", "tfidf"])
        parser.add_argument("--films", type=int, help="Only the N most popular visible films.")
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="First compute the quality priors and fit the TF-IDF vectors again (import_movies does both).",
        )

    def handle(self, *args, method: list[str], films: int | None, refresh: bool, **options) -> None:
        if films is not None and films < 1:
            raise CommandError("--films must be at least 1.")
        if refresh:
            refresh_quality()
            fitted = fit_tfidf(stdout=self.stderr._out)
            self.stdout.write(f"TF-IDF: {fitted.films} films over {fitted.terms} terms in {fitted.elapsed:.1f}s.")
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
