from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Movie
from moviesite.locks import catalog_writes
from recommender.bulk_embedding import embed_in_processes, embed_with_openai_batch, shard_of
from recommender.embedding import embed_movies
from recommender.encoders import EmbeddingError, OpenAIEncoder, get_encoder


def shard_argument(value: str) -> tuple[int, int]:
    shard, _, shards = value.partition("/")
    if not (shard.isdigit() and shards.isdigit() and int(shard) < int(shards)):
        raise ValueError(value)
    return int(shard), int(shards)


class Command(BaseCommand):
    help = "Compute the vectors of films whose vector is missing or stale (or all of them with --force)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--backend", choices=["local", "openai", "fake"], help="Default: EMBEDDING_BACKEND.")
        parser.add_argument("--force", action="store_true", help="Re-embed every film.")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument(
            "--workers", type=int, default=1, help="Split the films among N processes, each with its own model."
        )
        parser.add_argument(
            "--openai-batch",
            action="store_true",
            help="With the openai backend: go through OpenAI's Batch API (upload, poll, write back).",
        )
        parser.add_argument("--poll-seconds", type=float, default=30.0, help="Batch API: seconds between polls.")
        parser.add_argument(
            "--no-wait", action="store_true", help="Exit at once if an import or embedding run is in progress."
        )
        # What a parent run hands its workers.
        parser.add_argument("--shard", type=shard_argument, help="K/N: embed only the films of worker K of N.")
        parser.add_argument("--json", action="store_true", help="Print the counts as one line of JSON.")

    def handle(self, *args, shard, **options):
        if options["workers"] < 1 or options["batch_size"] < 1:
            raise CommandError("--workers and --batch-size are 1 or more.")
        if shard:  # a worker of a parent run, which holds the catalog's write lock for all of them
            return self._embed(shard=shard, **options)
        with catalog_writes(wait=not options["no_wait"], stderr=self.stderr._out, what="this embedding run"):
            return self._embed(shard=shard, **options)

    def _embed(self, *, backend, force, batch_size, workers, openai_batch, poll_seconds, shard, **options) -> None:
        try:
            if openai_batch:
                encoder = get_encoder(backend)
                if not isinstance(encoder, OpenAIEncoder):
                    raise CommandError("--openai-batch needs the openai backend (--backend openai).")
                result = embed_with_openai_batch(
                    encoder=encoder, force=force, poll_seconds=poll_seconds, stdout=self.stderr._out
                )
            elif workers > 1:
                result = embed_in_processes(
                    workers=workers, backend=backend, force=force, batch_size=batch_size, stdout=self.stderr._out
                )
            else:
                queryset = shard_of(Movie.objects.all(), *shard) if shard else None
                result = embed_movies(
                    queryset=queryset,
                    encoder=get_encoder(backend),
                    force=force,
                    batch_size=batch_size,
                    stdout=self.stderr._out,
                    show_progress=not options["json"],
                    manage_index=shard is None,
                )
        except EmbeddingError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            counts = {"embedded": result.embedded, "unchanged": result.unchanged, "texts": result.texts}
            self.stdout.write(json.dumps(counts))
            return
        # A film may need two texts embedded (document and story), one, or none (only its story's hash).
        self.stdout.write(
            f"Embedded {result.embedded} films ({result.texts} texts through the model) with {result.model}, "
            f"{result.unchanged} already up to date ({result.elapsed:.1f}s)."
        )
