from __future__ import annotations

import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from catalog.changes import after_import
from catalog.importers.formats import FORMATS, FormatError, describe_formats
from catalog.importers.loader import BATCH_SIZE, import_files
from catalog.models import Movie
from moviesite.locks import catalog_writes
from recommender.embedding import embed_movies, needs_vectors
from recommender.encoders import EmbeddingError, get_encoder
from recommender.models import TfidfVocabulary

MAX_REPORTED_SKIPS = 20


class Command(BaseCommand):
    help = "Import films from CSV datasets (plain or .gz); each file's format is recognised from its header."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--format", choices=sorted(FORMATS), help=f"Skip header detection. {describe_formats()}")
        parser.add_argument("--min-year", type=int, help="Skip films released before this year.")
        parser.add_argument("--limit", type=int, help="Import at most this many rows.")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"Rows per database transaction (default {BATCH_SIZE})."
        )
        parser.add_argument("--encoding", default="utf-8-sig", help="Text encoding of the files (default UTF-8).")
        parser.add_argument("--dry-run", action="store_true", help="Parse and match, then roll everything back.")
        parser.add_argument("--no-embed", action="store_true", help="Leave vectors for `embed_movies`.")
        parser.add_argument("--force", action="store_true", help="Re-read files already imported unchanged.")
        parser.add_argument(
            "--no-fit", action="store_true", help="Leave the collaborative refit after new ratings for `fit_cf`."
        )
        parser.add_argument(
            "--ratings-source",
            help="Whose users a ratings file's userIds are (default: the file's name, e.g. ratings_small); "
            "files of one dataset share users only under one source.",
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="If another import or embedding run is writing the catalog, exit at once instead of waiting.",
        )

    def handle(self, *args, **options) -> None:
        # One writer at a time: a second run waits, then finds the first one's films and matches them.
        with catalog_writes(wait=not options["no_wait"], stderr=self.stderr._out, what="this import"):
            self._import(**options)

    def _import(self, **options) -> None:
        for path in options["paths"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        # Progress goes to the raw stream, so a terminal's bar can redraw its line in place.
        progress_to = self.stderr._out
        embedding = not options["no_embed"] and not options["dry_run"]
        try:
            encoder = get_encoder() if embedding else None
        except EmbeddingError as exc:
            raise CommandError(f"{exc} (or import with --no-embed)") from exc
        if encoder:
            # The model loads (seconds) while the files are read and written.
            threading.Thread(target=encoder.load, daemon=True).start()
        try:
            result = import_files(
                options["paths"],
                format_name=options["format"],
                min_year=options["min_year"],
                limit=options["limit"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                force=options["force"],
                stdout=progress_to,
                ratings_source=options["ratings_source"],
            )
        except FormatError as exc:
            raise CommandError(str(exc)) from exc

        for line in result.skipped[:MAX_REPORTED_SKIPS]:
            self.stderr.write(f"skipped {line}")
        if len(result.skipped) > MAX_REPORTED_SKIPS:
            self.stderr.write(f"... and {len(result.skipped) - MAX_REPORTED_SKIPS} more skipped rows")
        for report in result.files:
            if report.unread_since:
                self.stdout.write(
                    f"{report.path} ({report.format}): unchanged since its import on "
                    f"{report.unread_since:%Y-%m-%d %H:%M}, not read again ({report.unchanged} films; --force reads it)"
                )
                continue
            reasons = ", ".join(f"{count} {reason}" for reason, count in report.skipped.most_common())
            if report.ratings:
                counts = report.ratings
                matched = counts.new + counts.changed + counts.unchanged
                self.stdout.write(
                    f"{report.path} ({report.format}): {report.rows} rows, {matched} ratings matched "
                    f"({counts.new} new, {counts.changed} changed, {counts.unchanged} unchanged), "
                    f"{counts.unmatched} about films not in the catalog, "
                    f"{sum(report.skipped.values())} skipped{f' ({reasons})' if reasons else ''}"
                )
                continue
            self.stdout.write(
                f"{report.path} ({report.format}): {report.rows} rows, {report.created} created, "
                f"{report.matched} matched ({report.enriched} enriched, {report.unchanged} unchanged), "
                + (f"{report.unmatched} about films not in the catalog, " if report.unmatched else "")
                + (f"{report.before_min_year} before --min-year, " if report.before_min_year else "")
                + f"{sum(report.skipped.values())} skipped{f' ({reasons})' if reasons else ''}"
            )

        films = bool(result.created or result.updated or not TfidfVocabulary.objects.exists())
        fit_ratings = not options["no_fit"]
        if not options["dry_run"] and (films or (result.ratings_changed and fit_ratings)):
            # What is computed over the whole catalog: keyword search's statistics, and (through the
            # catalog_imported signal) each film's quality prior and TF-IDF vector, and after new ratings the
            # co-liked films (unless --no-fit).
            for summary in after_import(
                stdout=progress_to, films=films, ratings_changed=result.ratings_changed, fit_ratings=fit_ratings
            ):
                self.stdout.write(summary)

        embedded = "not embedded (--no-embed)"
        if options["dry_run"]:
            embedded = "nothing written (--dry-run)"
        elif encoder:
            try:
                # Every film without vectors of this model (new ones, an earlier --no-embed or interrupted
                # run, a story never embedded) and the films this import changed; the text of the others
                # did not change.
                films = Movie.objects.filter(needs_vectors(encoder.name) | Q(pk__in=result.enriched_ids))
                embed = embed_movies(queryset=films, encoder=encoder, stdout=progress_to)
            except EmbeddingError as exc:
                raise CommandError(f"{exc} (films were imported; run embed_movies once fixed)") from exc
            embedded = f"{embed.embedded} embedded in {embed.elapsed:.1f}s, {embed.unchanged} already up to date"
        self.stdout.write(
            f"Total: {result.created} created, {result.updated} updated, {result.unchanged} unchanged, "
            f"{len(result.skipped)} skipped; {embedded}; import took {result.elapsed:.1f}s."
        )
        if result.read == 0 and result.skipped:
            raise CommandError("no film could be read")
