"""Writing parsed records into the catalog: match, create or enrich, in all-or-nothing batches.

A batch commits as one transaction, so an import killed at any moment leaves whole films only, and a re-run
matches what was written (by external id, else by normalised title and year) instead of duplicating it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from psycopg.types.json import Jsonb

from catalog.importers.formats import Format, count_rows, read_rows
from catalog.importers.ratings import RatingCounts, import_ratings, source_name
from catalog.importers.records import MovieRecord
from catalog.models import (
    EXTERNAL_IDS,
    Credit,
    Genre,
    ImportedFile,
    Keyword,
    Movie,
    Person,
    normalise_title,
    search_names,
)
from moviesite import locks
from moviesite.progress import progress

# Fields copied from a record onto a film. A record matched by external id to a film first imported from
# the same format overwrites it with newer values; any other match only enriches (fills blank fields).
SCALAR_FIELDS = (
    "title", "year", "release_date", "original_title", "original_language", "countries", "runtime",
    "overview", "plot", "tagline", "poster_url", "vote_average", "vote_count", "popularity",
    "imdb_id", "tmdb_id", "movielens_id",
)  # fmt: skip
EMPTY = (None, "", [])
# Rows per transaction. At a million films, 2,000 imported at 2,225 films/s against 1,985 for 1,000 (fewer
# statements and commits for the database, now the bottleneck; benchmarks/RESULTS.md, "Import again").
BATCH_SIZE = 2000


@dataclass
class FileReport:
    path: str
    format: str
    rows: int = 0
    created: int = 0
    enriched: int = 0
    unchanged: int = 0
    unmatched: int = 0  # enrichment rows about films the catalog does not have
    unread_since: datetime | None = None  # set when the unchanged file was skipped unread
    before_min_year: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> rows
    ratings: RatingCounts | None = None  # a ratings file's figures (its rows are ratings, not films)

    @property
    def matched(self) -> int:
        return self.enriched + self.unchanged


@dataclass
class ImportResult:
    files: list[FileReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "file:line: reason", every skipped row
    enriched_ids: set[int] = field(default_factory=set)  # existing films this import changed
    elapsed: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(report, name) for report in self.files)

    @property
    def created(self) -> int:
        return self.total("created")

    @property
    def updated(self) -> int:
        return self.total("enriched")

    @property
    def unchanged(self) -> int:
        return self.total("unchanged")

    @property
    def read(self) -> int:
        return self.created + self.updated + self.unchanged + self.ratings_read

    @property
    def ratings_read(self) -> int:
        return sum(report.ratings.rows - report.ratings.unmatched for report in self.files if report.ratings)

    @property
    def ratings_changed(self) -> int:
        """Ratings this import added or changed: what collaborative filtering would learn anew from."""
        return sum(report.ratings.new + report.ratings.changed for report in self.files if report.ratings)


class Matcher:
    """Finds the film a record describes: same external id first, else same normalised title and year ±1.

    Keys are film ids, or the unsaved Movie of the batch being built, so duplicates within one batch merge.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, dict] = {name: {} for name in EXTERNAL_IDS}
        self.by_title: dict[str, list] = defaultdict(list)
        self.loaded = False

    def load(self) -> None:
        """Read every film's ids and title once (deferred until a file is actually read)."""
        if self.loaded:
            return
        self.loaded = True
        rows = Movie.objects.values_list("pk", "title", "original_title", "year", *EXTERNAL_IDS)
        for pk, title, original_title, year, *ids in rows.iterator(chunk_size=10_000):
            self.add(
                pk, title=title, original_title=original_title, year=year, ids=dict(zip(EXTERNAL_IDS, ids, strict=True))
            )

    def add(self, key, *, title: str, original_title: str, year: int | None, ids: dict) -> None:
        for name, value in ids.items():
            if value is not None:
                self.by_id[name][value] = key
        if title:
            for name in {normalise_title(title), normalise_title(original_title or title)}:
                self.by_title[name].append([year, key, ids])

    def wants(self, fmt: Format, row: dict[str, str]) -> bool:
        """Whether a raw row of an enrichment file names a film we have (or has an id to complain about)."""
        if fmt.creates or not fmt.id_columns:
            return True
        ids = fmt.row_ids(row)
        return ids is None or any(value in self.by_id[name] for name, value in ids.items())

    def owner(self, name: str, value):
        return self.by_id[name].get(value)

    def find(self, record: MovieRecord, *, by_title: bool = True) -> tuple[object | None, bool]:
        """(film id or pending Movie, or None; whether it matched by external id)."""
        for name in EXTERNAL_IDS:
            value = getattr(record, name)
            if value is not None and value in self.by_id[name]:
                return self.by_id[name][value], True
        if not by_title or not record.title:
            return None, False
        for year, key, ids in self.by_title.get(normalise_title(record.title), []):
            if record.year is not None and year is not None and abs(year - record.year) > 1:
                continue
            # A film that already carries a different id of the same kind is another film (a remake).
            if any(
                ids.get(name) not in (None, getattr(record, name)) for name in EXTERNAL_IDS if getattr(record, name)
            ):
                continue
            return key, False
        return None, False

    def saved(self, movies: list[Movie]) -> None:
        """Replace the pending Movie keys of a committed batch by their ids (keeps memory small)."""
        for name in EXTERNAL_IDS:
            for movie in movies:
                value = getattr(movie, name)
                if value is not None and self.by_id[name].get(value) is movie:
                    self.by_id[name][value] = movie.pk
        for movie in movies:
            for name in {normalise_title(movie.title), normalise_title(movie.original_title or movie.title)}:
                for entry in self.by_title.get(name, []):
                    if entry[1] is movie:
                        entry[1] = movie.pk


def import_files(
    paths: Iterable[Path],
    *,
    format_name: str | None = None,
    min_year: int | None = None,
    limit: int | None = None,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    force: bool = False,
    encoding: str = "utf-8-sig",
    stdout: TextIO | None = None,
    show_progress: bool = True,
    ratings_source: str | None = None,
) -> ImportResult:
    """Import every row of every file; bad rows are reported and skipped, each batch commits atomically.

    Files that create films are read before files that only enrich them (keywords, credits, links), so one
    run can be given them in any order. A file already imported to its end, unchanged since, is skipped
    unread unless `force` (see `_already_imported`). Ratings files are read last, once their films' links
    are in; their users belong to `ratings_source` (default: each file's name, e.g. "ratings_small"). What is
    computed over the whole catalog (statistics, features, co-liked films) is the caller's next step:
    `catalog.changes.after_import()`.
    """
    started = time.monotonic()
    run = _Run(
        matcher=Matcher(), result=ImportResult(), min_year=min_year, limit=limit, batch_size=batch_size,
        encoding=encoding, stdout=stdout, show_progress=show_progress, remember=not dry_run,
        options=f"min_year={min_year} encoding={encoding}", ratings_source=ratings_source,
    )  # fmt: skip
    opened = [
        (Path(path), *read_rows(Path(path), format_name=format_name, encoding=encoding, wanted=run.matcher.wants))
        for path in paths
    ]
    opened.sort(key=lambda item: (not item[1].creates, item[1].ratings))
    # Each batch commits on its own; a dry run instead wraps them all in one transaction rolled back at the
    # end, so later batches still see (and match) the films earlier batches would have created.
    with transaction.atomic() if dry_run else contextlib.nullcontext():
        for path, fmt, rows in opened:
            digest = _sha256(path)
            previous = None if force or dry_run else _already_imported(digest, fmt, _options(run, path, fmt))
            if previous:
                run.result.files.append(FileReport(
                    path=str(path), format=fmt.name, rows=previous.rows, unchanged=previous.films,
                    unread_since=previous.imported_at,
                ))  # fmt: skip
                rows.close()
                continue
            _import_file(run, path, fmt, rows, digest)
        if dry_run:
            transaction.set_rollback(True)
    run.result.elapsed = time.monotonic() - started
    return run.result


@dataclass
class _Run:
    matcher: Matcher
    result: ImportResult
    min_year: int | None
    limit: int | None
    batch_size: int
    encoding: str
    stdout: TextIO | None
    show_progress: bool
    remember: bool
    options: str
    ratings_source: str | None = None
    taken: int = 0


def _options(run: _Run, path: Path, fmt: Format) -> str:
    """What shaped a file's import besides its bytes: for ratings, whose users they are too."""
    return f"{run.options} source={_ratings_source(run, path)}" if fmt.ratings else run.options


def _ratings_source(run: _Run, path: Path) -> str:
    return run.ratings_source or source_name(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _already_imported(digest: str, fmt: Format, options: str) -> ImportedFile | None:
    """The record of this very file's complete import, if re-reading it could change nothing.

    Not if films were deleted since (they would come back), nor, for a file that only enriches, if films were
    added since (its rows about them were passed over the first time).
    """
    previous = ImportedFile.objects.filter(sha256=digest, format=fmt.name, options=options).first()
    if previous is None or Movie.objects.count() < previous.catalog_films:
        return None
    if not fmt.creates and Movie.objects.aggregate(last=Max("pk"))["last"] != previous.last_film_id:
        return None
    return previous


def _import_file(run: _Run, path: Path, fmt: Format, rows, digest: str) -> None:
    run.matcher.load()
    report = FileReport(path=str(path), format=fmt.name)
    run.result.files.append(report)
    if fmt.ratings:
        rows.close()
        _import_ratings_file(run, path, report)
        _remember(run, path, fmt, digest, films=report.ratings.rows - report.ratings.unmatched)
        return
    total = count_rows(path, encoding=run.encoding) if run.show_progress else None
    bar = progress(total=total, desc=f"{path.name} ({fmt.name})", file=run.stdout, enabled=run.show_progress)
    records = _accepted(rows, path, report, run.result, run.min_year)
    if run.limit is not None:
        records = itertools.islice(records, max(run.limit - run.taken, 0))  # rows past the limit are never read
    shown = 0
    with _Writer(in_thread=not connection.in_atomic_block) as writer:
        for batch in _batches(records, run.batch_size):
            run.taken += len(batch)
            ready = _prepare_batch(batch, fmt=fmt, matcher=run.matcher, report=report, writer=writer)
            writer.submit(_write_batch, ready, report=report, result=run.result)
            bar.update(report.rows - shown)
            shown = report.rows
    bar.update(report.rows - shown)
    bar.close()
    rows.close()
    _remember(run, path, fmt, digest, films=report.created + report.matched)


def _remember(run: _Run, path: Path, fmt: Format, digest: str, *, films: int) -> None:
    """Record a file read to its end, so an unchanged re-run can skip it (see `_already_imported`)."""
    if run.remember and run.limit is None:
        ImportedFile.objects.update_or_create(
            sha256=digest, format=fmt.name, options=_options(run, path, fmt),
            defaults={
                "path": str(path)[:1000], "rows": run.result.files[-1].rows, "films": films,
                "catalog_films": Movie.objects.count(), "last_film_id": Movie.objects.aggregate(last=Max("pk"))["last"],
            },
        )  # fmt: skip


# Files above this size are not counted before a ratings import (a second pass over 25M rows); their bar
# shows the rate without an ETA.
COUNT_ROWS_UP_TO = 64 << 20


def _import_ratings_file(run: _Run, path: Path, report: FileReport) -> None:
    small = path.stat().st_size <= COUNT_ROWS_UP_TO
    total = count_rows(path, encoding=run.encoding) if run.show_progress and small else None
    bar = progress(total=total, desc=f"{path.name} (ratings)", unit="row", file=run.stdout, enabled=run.show_progress)
    films = run.matcher.by_id["movielens_id"]

    def skip(line: int, message: str, reason: str) -> None:
        _skip(report, run.result, path, line, message, reason=reason)

    counts = import_ratings(
        path,
        source=_ratings_source(run, path),
        film_of=films,
        encoding=run.encoding,
        limit=None if run.limit is None else max(run.limit - run.taken, 0),
        skip=skip,
        advance=bar.update,
    )
    bar.close()
    run.taken += counts.rows
    report.rows, report.unmatched, report.ratings = counts.rows, counts.unmatched, counts


def _accepted(rows, path: Path, report: FileReport, result: ImportResult, min_year: int | None):
    for row in rows:
        report.rows += 1
        if row.unwanted:
            report.unmatched += 1
        elif row.error:
            _skip(report, result, path, row.line, row.error, reason=row.error.split(":")[0])
        elif min_year is not None and row.record.year is not None and row.record.year < min_year:
            report.before_min_year += 1
        else:
            yield row.record


def _skip(report: FileReport, result: ImportResult, path: Path, line, message: str, reason: str) -> None:
    report.skipped[reason] += 1
    result.skipped.append(f"{path}:{line}: {message}")


def _batches(records: Iterator[MovieRecord], size: int) -> Iterator[list[MovieRecord]]:
    batch: list[MovieRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Writes prepared batches, one at a time, each in its own transaction.

    Outside any transaction (the command's case) it writes in a second thread with its own database
    connection, so the next batch is read, parsed and matched while this one is copied, linked and committed:
    the importer's Python and the database's work overlap instead of taking turns. At most one batch is in
    flight; a write's error is raised by the next `submit` or `wait`, and leaving the block waits for the
    last write, so a batch is committed whole or not at all, as without the thread. Inside a transaction (a
    dry run, a caller's `atomic`, a test) another connection could not see that transaction's rows, so it
    writes in this thread.
    """

    def __init__(self, *, in_thread: bool) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") if in_thread else None
        self.pending: Future | None = None

    def submit(self, write: Callable[..., None], *args, **kwargs) -> None:
        self.wait()
        if self.executor is None:
            self._in_transaction(write, *args, **kwargs)
            return
        self.pending = self.executor.submit(self._in_transaction, write, *args, **kwargs)

    def wait(self) -> None:
        """Until the batch in flight is committed (its error raised here)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    @staticmethod
    def _in_transaction(write: Callable[..., None], *args, **kwargs) -> None:
        with transaction.atomic():
            locks.batch_write()  # the next run waits for this commit, even if this process dies first
            write(*args, **kwargs)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.wait()
        finally:
            if self.executor is not None:
                # `connection` stands for the calling thread's connection: close the writer thread's there.
                self.executor.submit(lambda: connection.close()).result()
                self.executor.shutdown()


@dataclass
class _Prepared:
    """A batch matched to the catalog, its new films given their ids: what `_write_batch` writes."""

    films: list[tuple[MovieRecord, Movie]]
    new_films: list[Movie]
    changed: list[Movie]
    changed_fields: list[str]
    merged_into_new: set[int]  # new films a second row of the same batch enriched
    full_credits: bool


def _prepare_batch(
    batch: list[MovieRecord], *, fmt: Format, matcher: Matcher, report: FileReport, writer: _Writer
) -> _Prepared:
    """Match each record to a film (or a new one) and apply it, in memory; the new films get their ids.

    Reads the database only for films matched to an existing id, after the batch in flight is committed
    (it may have created them).
    """
    source = fmt.name
    targets: list[tuple[MovieRecord, object, bool]] = []
    new_films: list[Movie] = []
    for record in batch:
        key, by_external_id = matcher.find(record, by_title=fmt.creates)
        if key is None and not fmt.creates:
            report.unmatched += 1  # a film this catalog does not have
            continue
        if key is None:
            movie = Movie(source=source, featured=bool(record.featured), source_ids={source: record.source_row})
            _apply(movie, record, overwrite=True, matcher=matcher)
            # Written with the row, the names spare a second pass over every new film's search vector.
            movie.people_text, movie.tags_text = search_names(
                people=[*record.cast, *record.directors], genres=record.genres, keywords=record.keywords
            )
            matcher.add(movie, title=movie.title, original_title=movie.original_title, year=movie.year,
                        ids={name: getattr(movie, name) for name in EXTERNAL_IDS})  # fmt: skip
            new_films.append(movie)
            key = movie
        targets.append((record, key, by_external_id))

    known = [key for _, key, _ in targets if isinstance(key, int)]
    if known:
        writer.wait()
    existing = Movie.objects.in_bulk(known) if known else {}
    created = {id(movie) for movie in new_films}
    merged_into_new: set[int] = set()
    changed: dict[int, Movie] = {}
    changed_fields: set[str] = set()
    films: list[tuple[MovieRecord, Movie]] = []
    for record, key, by_external_id in targets:
        movie = existing[key] if isinstance(key, int) else key
        films.append((record, movie))
        if id(movie) in created and movie.source_ids.get(source) == record.source_row:
            continue  # the record that created it
        overwrite = by_external_id and movie.source == source
        touched = _apply(movie, record, overwrite=overwrite, matcher=matcher)
        if movie.source_ids.get(source) is None:
            movie.source_ids = {**movie.source_ids, source: record.source_row}
            touched.add("source_ids")
        changed_fields |= touched
        if touched and id(movie) not in created:
            changed[movie.pk] = movie
        elif id(movie) in created:
            merged_into_new.add(id(movie))  # a second row for a film new in this batch

    _assign_ids(new_films)
    matcher.saved(new_films)
    merged = {movie.pk for movie in new_films if id(movie) in merged_into_new}
    return _Prepared(
        films=films, new_films=new_films, changed=list(changed.values()), changed_fields=sorted(changed_fields),
        merged_into_new=merged, full_credits=fmt.full_credits,
    )  # fmt: skip


def _write_batch(ready: _Prepared, *, report: FileReport, result: ImportResult) -> None:
    """Write a prepared batch: COPY its new films, update the changed ones, link genres, keywords and
    people, refresh the search text of films that gained names; then count what happened."""
    _copy_films(ready.new_films)
    _update_films(ready.changed, ready.changed_fields)
    new_ids = {movie.pk for movie in ready.new_films}
    related_changed = _link_related(ready.films, new_ids=new_ids, replace_credits=ready.full_credits)
    touched_ids = new_ids | {movie.pk for movie in ready.changed} | related_changed
    stale_text = (touched_ids - new_ids) | ready.merged_into_new
    Movie.objects.filter(pk__in=stale_text).refresh_search_text()

    result.enriched_ids |= touched_ids - new_ids
    counted: set[int] = set()
    for _, movie in ready.films:
        if movie.pk in counted:
            continue  # several rows of this batch describe one film: count it once
        counted.add(movie.pk)
        if movie.pk in new_ids:
            report.created += 1
        elif movie.pk in touched_ids:
            report.enriched += 1
        else:
            report.unchanged += 1


def _apply(movie: Movie, record: MovieRecord, *, overwrite: bool, matcher: Matcher) -> set[str]:
    """Copy the record's values onto the film (see SCALAR_FIELDS); return the names of the fields changed."""
    changed = set()
    for name in SCALAR_FIELDS:
        value = getattr(record, name)
        if value in EMPTY:
            continue
        current = getattr(movie, name)
        if current == value or (not overwrite and current not in EMPTY):
            continue
        if name in EXTERNAL_IDS:
            owner = matcher.owner(name, value)
            if owner is not None and owner is not movie and owner != movie.pk:
                continue  # that id belongs to another film; never steal it
            matcher.by_id[name][value] = movie.pk if movie.pk is not None else movie
        setattr(movie, name, value)
        changed.add(name)
    return changed


def _link_related(
    films: list[tuple[MovieRecord, Movie]], *, new_ids: set[int] = frozenset(), replace_credits: bool = False
) -> set[int]:
    """Add genres, keywords and credits the films lack; return the ids of films that gained any.

    Credits come whole from one source: a film that has a director list keeps it, unless this source's
    credits are complete and ordered (`replace_credits`: TMDB's credits files), which then replace a list
    that differs, whatever order the files came in.
    """
    genre_ids = _tag_ids(Genre, {name for record, _ in films for name in record.genres})
    keyword_ids = _tag_ids(Keyword, {name for record, _ in films for name in record.keywords})
    people = {name for record, _ in films for name in (*record.directors, *record.cast)}
    person_ids = _person_ids(people)

    # Films created by this batch have no links yet: only the others' are read.
    created = {movie.pk for _, movie in films if movie.pk in new_ids}
    pks = list({movie.pk for _, movie in films} - created)
    had_genres = _pairs(Movie.genres.through, "genre_id", pks)
    had_keywords = _pairs(Movie.keywords.through, "keyword_id", pks)
    existing_credits: dict[tuple[int, str], list[str]] = defaultdict(list)
    if pks:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT c.movie_id, c.role, p.name FROM {Credit._meta.db_table} c
                    JOIN {Person._meta.db_table} p ON p.id = c.person_id
                    WHERE c.movie_id = ANY(%s) ORDER BY c.movie_id, c.role, c."order"
                """,
                [pks],
            )
            for movie_id, role, name in cursor.fetchall():
                existing_credits[(movie_id, role)].append(name)
    had_roles = set(existing_credits)
    replaced: list[tuple[int, str]] = []

    new_genres, new_keywords, new_credits = {}, {}, {}
    for record, movie in films:
        for name in record.genres:
            pair = (movie.pk, genre_ids[name])
            if pair not in had_genres:
                new_genres[pair] = pair
        for name in record.keywords:
            pair = (movie.pk, keyword_ids[name])
            if pair not in had_keywords:
                new_keywords[pair] = pair
        # Credits come whole from one source: a film that already has a director list keeps it.
        characters = dict(zip(record.cast, record.characters, strict=False))
        for role, names in ((Credit.Role.DIRECTOR, record.directors), (Credit.Role.CAST, record.cast)):
            key = (movie.pk, role.value)
            if not names:
                continue
            if key in had_roles:
                if not replace_credits or existing_credits[key] == list(dict.fromkeys(names)):
                    continue
                replaced.append(key)
            had_roles.add(key)
            for order, name in enumerate(dict.fromkeys(names)):
                character = characters.get(name, "")[:300] if role == Credit.Role.CAST else ""
                new_credits[(movie.pk, name, role)] = (movie.pk, person_ids[name], role.value, order, character)
    for movie_id, role in replaced:
        Credit.objects.filter(movie_id=movie_id, role=role).delete()
    _insert_rows(Movie.genres.through, ["movie_id", "genre_id"], new_genres.values())
    _insert_rows(Movie.keywords.through, ["movie_id", "keyword_id"], new_keywords.values())
    _insert_rows(Credit, ["movie_id", "person_id", "role", "order", "character"], new_credits.values())
    return {pair[0] for pair in (*new_genres, *new_keywords)} | {key[0] for key in new_credits}


def _assign_ids(films: list[Movie]) -> None:
    """Give new films their ids from the table's sequence (so they are known before the films are written,
    as after bulk_create, at a fraction of its cost)."""
    if not films:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Movie._meta.db_table, len(films)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    now = timezone.now()
    for movie, pk in zip(films, ids, strict=True):
        movie.pk, movie.created_at, movie.updated_at = pk, now, now


def _copy_films(films: list[Movie]) -> None:
    """Write new films (with their ids) with COPY."""
    if not films:
        return
    table = Movie._meta.db_table
    fields = [model_field for model_field in Movie._meta.concrete_fields if not model_field.generated]
    attnames = [model_field.attname for model_field in fields]
    json_fields = {model_field.attname for model_field in fields if isinstance(model_field, models.JSONField)}
    columns = ", ".join(connection.ops.quote_name(model_field.column) for model_field in fields)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for movie in films:
            values = [getattr(movie, name) for name in attnames]
            copy.write_row(
                [Jsonb(value) if name in json_fields else value for name, value in zip(attnames, values, strict=True)]
            )


def _update_films(films: list[Movie], field_names: list[str]) -> None:
    """One UPDATE ... FROM unnest(arrays) for the changed fields of these films (Django's bulk_update
    writes a CASE per field and film, and took 3 ms a film)."""
    if not films:
        return
    fields = [Movie._meta.get_field(name) for name in [*field_names, "updated_at"]]
    now = timezone.now()
    assignments, arrays, params = [], ["%s::bigint[]"], [[movie.pk for movie in films]]
    for index, model_field in enumerate(fields):
        column = connection.ops.quote_name(model_field.column)
        values = [
            now if model_field.attname == "updated_at" else getattr(movie, model_field.attname) for movie in films
        ]
        if isinstance(model_field, ArrayField | models.JSONField):
            # Arrays cannot nest in unnest(); both travel as JSON text and are rebuilt on the other side.
            params.append([json.dumps(value) for value in values])
            arrays.append("%s::text[]")
            if isinstance(model_field, ArrayField):
                rebuilt = (
                    f"ARRAY(SELECT jsonb_array_elements_text(u.f{index}::jsonb))::{model_field.db_type(connection)}"
                )
            else:
                rebuilt = f"u.f{index}::jsonb"
        else:
            params.append(values)
            arrays.append(f"%s::{model_field.db_type(connection).split('(')[0]}[]")
            rebuilt = f"u.f{index}"
        assignments.append(f"{column} = {rebuilt}")
    names = ", ".join(["id", *[f"f{index}" for index in range(len(fields))]])
    sql = (
        f"UPDATE {Movie._meta.db_table} AS m SET {', '.join(assignments)} "
        f"FROM unnest({', '.join(arrays)}) AS u({names}) WHERE m.id = u.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_rows(model, columns: list[str], rows: Iterable[tuple]) -> None:
    """INSERT ... SELECT FROM unnest(arrays): one statement and one parameter per column, whatever the
    number of rows (bulk_create builds a parameter per cell, which dominated the import's time)."""
    rows = list(rows)
    if not rows:
        return
    fields = [model._meta.get_field(column.removesuffix("_id")) for column in columns]
    types = [field.db_type(connection) for field in fields]
    types = [{"serial": "integer", "bigserial": "bigint"}.get(t, t).split("(")[0] for t in types]
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    arrays = ", ".join(f"%s::{db_type}[]" for db_type in types)
    sql = f"INSERT INTO {model._meta.db_table} ({names}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])


def _pairs(through, column: str, movie_ids: list[int]) -> set[tuple[int, int]]:
    """The (movie id, `column`) pairs of these films in a link table."""
    if not movie_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT movie_id, {column} FROM {through._meta.db_table} WHERE movie_id = ANY(%s)", [movie_ids])
        return set(cursor.fetchall())


def _named_rows(model, rows: set[tuple[str, ...]]) -> list[tuple]:
    """Create the missing rows of `model` (its unique "name" column, and "slug" when the tuples have two
    values) and return (name[, slug], id) of every row sharing a unique value with one of `rows`.

    One statement with an array per column: an IN list of thousands of names cost more in the driver than
    the insert did in the database.
    """
    if not rows:
        return []
    columns = ["name", "slug"][: len(next(iter(rows)))]
    table = model._meta.db_table
    listed = ", ".join(columns)
    values = [list(column) for column in zip(*rows, strict=True)]
    matching = " OR ".join(f"{column} = ANY(%s)" for column in columns)
    # The new rows come from RETURNING, the others from the table (the SELECT does not see what the same
    # statement inserted, so nothing comes twice).
    arrays = ", ".join(["%s::text[]"] * len(columns))
    sql = f"""WITH new AS (INSERT INTO {table} ({listed}) SELECT * FROM unnest({arrays})
                           ON CONFLICT DO NOTHING RETURNING {listed}, id)
              SELECT {listed}, id FROM new UNION ALL SELECT {listed}, id FROM {table} WHERE {matching}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *values])
        found = cursor.fetchall()
        known = [{row[index] for row in found} for index in range(len(columns))]
        if any(not any(value in known[index] for index, value in enumerate(row)) for row in rows):
            # Another import committed one of these names after this statement began: read them again.
            cursor.execute(f"SELECT {listed}, id FROM {table} WHERE {matching}", values)
            found = cursor.fetchall()
    return found


def _person_ids(names: set[str]) -> dict[str, int]:
    stored = {name: name[:300] for name in names}  # the column's length
    by_name = dict(_named_rows(Person, {(short,) for short in stored.values()}))
    return {name: by_name[short] for name, short in stored.items()}


def _tag_ids(model: type[Genre] | type[Keyword], names: set[str]) -> dict[str, int]:
    """Ids of genre or keyword names, creating the missing ones (names differing only in case share one)."""
    slugs = {name: slugify(name, allow_unicode=True)[:200] or name.lower()[:200] for name in names}
    rows = _named_rows(model, set({slug: (name[:200], slug) for name, slug in slugs.items()}.values()))
    by_name = {name: pk for name, _, pk in rows}
    by_slug = {slug: pk for _, slug, pk in rows}
    return {name: by_name.get(name[:200]) or by_slug[slug] for name, slug in slugs.items()}
