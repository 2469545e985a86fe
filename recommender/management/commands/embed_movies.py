from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from moviesite.locks import catalog_writes
from recommender.embedding import embed_movies
from recommender.encoders import EmbeddingError, get_encoder


class Command(BaseCommand):
    help = "Compute the vectors of films whose vector is missing or stale (or all of them with --force)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--backend", choices=["local", "openai", "fake"], help="Default: EMBEDDING_BACKEND.")
        parser.add_argument("--force", action="store_true", help="Re-embed every film.")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument(
            "--no-wait", action="store_true", help="Exit at once if an import or embedding run is in progress."
        )

    def handle(self, *args, backend: str | None, force: bool, batch_size: int, **options) -> None:
        try:
            encoder = get_encoder(backend)
            with catalog_writes(wait=not options.get("no_wait"), stderr=self.stderr._out, what="this embedding run"):
                result = embed_movies(encoder=encoder, force=force, batch_size=batch_size, stdout=self.stderr._out)
        except EmbeddingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Embedded {result.embedded} films with {result.model}, {result.unchanged} already up to date "
            f"({result.elapsed:.1f}s)."
        )
