from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from catalog.api.answers import keep_similar_answers
from catalog.models import Movie
from moviesite.progress import progress


class Command(BaseCommand):
    help = (
        "Compute and keep the API's default similar-films answer of the most popular films (all by default), as "
        "a site has them once each film's similar films were asked for: each is then one statement to serve, "
        "until the catalog changes or the co-liked lists are refitted."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--films", type=int, help="Only the N most popular visible films.")

    def handle(self, *args, films: int | None, **options) -> None:
        if films is not None and films < 1:
            raise CommandError("--films must be at least 1.")
        movies = Movie.objects.visible().with_details().ordered()
        movies = list(movies[:films] if films else movies)
        bar = progress(total=len(movies), desc="Keeping answers", file=self.stderr._out)
        computed = 0
        for start in range(0, len(movies), 50):
            chunk = movies[start : start + 50]
            computed += keep_similar_answers(chunk)
            bar.update(len(chunk))
        bar.close()
        self.stdout.write(f"{computed} similar-films answers computed, {len(movies) - computed} were already kept.")
