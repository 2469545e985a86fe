"""Writing parsed records into the catalog: match, create or enrich, in all-or-nothing batches."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from catalog.importers.formats import read_rows
from catalog.importers.records import MovieRecord, normalise_title
from catalog.models import Credit, Genre, Keyword, Movie, Person
from moviesite.progress import progress

# Fields copied from a record onto a film. A record matched by external id to a film first imported from
# the same format overwrites it with newer values; any other match only enriches (fills blank fields).
SCALAR_FIELDS = (
    "title", "year", "release_date", "original_title", "original_language", "countries", "runtime",
    "overview", "plot", "tagline", "poster_url", "vote_average", "vote_count", "popularity",
    "imdb_id", "tmdb_id", "movielens_id",
)  # fmt: skip
EXTERNAL_IDS = ("imdb_id", "tmdb_id", "movielens_id")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    movie_ids: set[int] = field(default_factory=set)
    elapsed: float = 0.0

    @property
    def read(self) -> int:
        return self.created + self.updated + self.unchanged


class Matcher:
    """Finds the film a record describes: same external id first, else same normalised title and year ±1."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict] = {name: {} for name in EXTERNAL_IDS}
        self.by_title: dict[str, list[tuple[int | None, int, dict]]] = defaultdict(list)
        rows = Movie.objects.values_list("pk", "title", "original_title", "year", *EXTERNAL_IDS)
        for pk, title, original_title, year, *ids in rows.iterator(chunk_size=5000):
            self.add(pk, title, original_title, year, dict(zip(EXTERNAL_IDS, ids, strict=True)))

    def add(self, pk: int, title: str, original_title: str, year: int | None, ids: dict) -> None:
        for name, value in ids.items():
            if value is not None:
                self.by_id[name][value] = pk
        for name in {normalise_title(title), normalise_title(original_title or title)}:
            self.by_title[name].append((year, pk, ids))

    def find(self, record: MovieRecord) -> tuple[int | None, bool]:
        """(film id or None, whether it matched by external id)."""
        for name in EXTERNAL_IDS:
            value = getattr(record, name)
            if value is not None and value in self.by_id[name]:
                return self.by_id[name][value], True
        candidates = self.by_title.get(normalise_title(record.title), [])
        for year, pk, ids in candidates:
            if record.year is not None and year is not None and abs(year - record.year) > 1:
                continue
            # A film that already carries a different id of the same kind is another film (a remake).
            if any(ids[name] not in (None, getattr(record, name)) for name in EXTERNAL_IDS if getattr(record, name)):
                continue
            return pk, False
        return None, False


def import_files(
    paths: Iterable[Path],
    *,
    format_name: str | None = None,
    min_year: int | None = None,
    limit: int | None = None,
    batch_size: int = 500,
    dry_run: bool = False,
    stdout: TextIO | None = None,
    show_progress: bool = True,
) -> ImportResult:
    """Import every row of every file; bad rows are reported and skipped, each batch commits atomically."""
    started = time.monotonic()
    result = ImportResult()
    matcher = Matcher()
    taken = 0
    for path in paths:
        fmt, rows = read_rows(Path(path), format_name=format_name)
        bar = progress(total=None, desc=f"Importing {Path(path).name}", file=stdout, enabled=show_progress)
        for batch in _batches(_accepted(rows, path, result, min_year), batch_size):
            if limit is not None:
                batch = batch[: max(limit - taken, 0)]
            if not batch:
                break
            taken += len(batch)
            with transaction.atomic():
                _load_batch(batch, source=fmt.name, matcher=matcher, result=result)
                if dry_run:
                    transaction.set_rollback(True)
            bar.update(len(batch))
        bar.close()
    result.elapsed = time.monotonic() - started
    return result


def _accepted(rows, path, result: ImportResult, min_year: int | None) -> Iterator[MovieRecord]:
    for row in rows:
        if row.error:
            result.skipped.append(f"{path}:{row.line}: {row.error}")
        elif min_year is not None and (row.record.year is None or row.record.year < min_year):
            result.skipped.append(f"{path}:{row.line}: year {row.record.year} is before --min-year {min_year}")
        else:
            yield row.record


def _batches(records: Iterator[MovieRecord], size: int) -> Iterator[list[MovieRecord]]:
    batch: list[MovieRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _load_batch(batch: list[MovieRecord], *, source: str, matcher: Matcher, result: ImportResult) -> None:
    matches = {id(record): matcher.find(record) for record in batch}
    existing = Movie.objects.in_bulk([pk for pk, _ in matches.values() if pk])
    changed_films: list[Movie] = []
    films: list[tuple[MovieRecord, Movie, bool]] = []
    for record in batch:
        pk, by_external_id = matches[id(record)]
        if pk is None:
            movie = Movie(source=source, featured=bool(record.featured))
            _apply(movie, record, overwrite=True)
            movie.source_ids = {source: record.source_row}
            films.append((record, movie, True))
        else:
            movie = existing[pk]
            changed = _apply(movie, record, overwrite=by_external_id and movie.source == source)
            if movie.source_ids.get(source) != record.source_row:
                movie.source_ids = {**movie.source_ids, source: record.source_row}
                changed = True
            if changed:
                changed_films.append(movie)
            films.append((record, movie, False))

    new_films = [movie for _, movie, is_new in films if is_new]
    Movie.objects.bulk_create(new_films)
    for movie in new_films:
        ids = {name: getattr(movie, name) for name in EXTERNAL_IDS}
        matcher.add(movie.pk, movie.title, movie.original_title, movie.year, ids)
    if changed_films:
        Movie.objects.bulk_update(changed_films, [*SCALAR_FIELDS, "source_ids"])

    related_changed = _link_related(films)
    touched = {movie.pk for movie in new_films} | {m.pk for m in changed_films} | related_changed
    Movie.objects.filter(pk__in=touched).refresh_search_text()

    for _, movie, is_new in films:
        result.movie_ids.add(movie.pk)
        if is_new:
            result.created += 1
        elif movie.pk in touched:
            result.updated += 1
        else:
            result.unchanged += 1


def _apply(movie: Movie, record: MovieRecord, *, overwrite: bool) -> bool:
    changed = False
    for name in SCALAR_FIELDS:
        value = getattr(record, name)
        if value in (None, "", []):
            continue
        current = getattr(movie, name)
        if current == value or (not overwrite and current not in (None, "", [])):
            continue
        setattr(movie, name, value)
        changed = True
    return changed


def _link_related(films: list[tuple[MovieRecord, Movie, bool]]) -> set[int]:
    """Add genres, keywords and credits the films lack; return the ids of films that gained any."""
    genre_ids = _tag_ids(Genre, {name for record, _, _ in films for name in record.genres})
    keyword_ids = _tag_ids(Keyword, {name for record, _, _ in films for name in record.keywords})
    people = {name for record, _, _ in films for name in (*record.directors, *record.cast)}
    Person.objects.bulk_create([Person(name=name) for name in people], ignore_conflicts=True)
    person_ids = dict(Person.objects.filter(name__in=people).values_list("name", "pk"))

    pks = [movie.pk for _, movie, _ in films]
    had_genres = set(Movie.genres.through.objects.filter(movie_id__in=pks).values_list("movie_id", "genre_id"))
    had_keywords = set(Movie.keywords.through.objects.filter(movie_id__in=pks).values_list("movie_id", "keyword_id"))
    had_roles = set(Credit.objects.filter(movie_id__in=pks).values_list("movie_id", "role").distinct())

    new_genres, new_keywords, new_credits = [], [], []
    for record, movie, _ in films:
        for name in record.genres:
            if (movie.pk, genre_ids[name]) not in had_genres:
                new_genres.append(Movie.genres.through(movie_id=movie.pk, genre_id=genre_ids[name]))
        for name in record.keywords:
            if (movie.pk, keyword_ids[name]) not in had_keywords:
                new_keywords.append(Movie.keywords.through(movie_id=movie.pk, keyword_id=keyword_ids[name]))
        # Credits come whole from one source: a film that already has a director list keeps it.
        for role, names in ((Credit.Role.DIRECTOR, record.directors), (Credit.Role.CAST, record.cast)):
            if names and (movie.pk, role.value) not in had_roles:
                new_credits.extend(
                    Credit(movie_id=movie.pk, person_id=person_ids[name], role=role, order=order)
                    for order, name in enumerate(dict.fromkeys(names))
                )
    Movie.genres.through.objects.bulk_create(new_genres, ignore_conflicts=True)
    Movie.keywords.through.objects.bulk_create(new_keywords, ignore_conflicts=True)
    Credit.objects.bulk_create(new_credits, ignore_conflicts=True)
    return {row.movie_id for row in (*new_genres, *new_keywords, *new_credits)}


def _tag_ids(model: type[Genre] | type[Keyword], names: set[str]) -> dict[str, int]:
    """Ids of genre or keyword names, creating the missing ones (matched case-insensitively by slug)."""
    slugs = {name: slugify(name, allow_unicode=True)[:200] or name.lower()[:200] for name in names}
    model.objects.bulk_create([model(name=name, slug=slug) for name, slug in slugs.items()], ignore_conflicts=True)
    rows = model.objects.filter(Q(slug__in=slugs.values()) | Q(name__in=names)).values_list("name", "slug", "pk")
    by_name = {name: pk for name, _, pk in rows}
    by_slug = {slug: pk for _, slug, pk in rows}
    return {name: by_name.get(name) or by_slug[slug] for name, slug in slugs.items()}
