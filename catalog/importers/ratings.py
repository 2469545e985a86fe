"""Ratings files (MovieLens `ratings.csv`, The Movies Dataset's `ratings_small.csv`): users' stars for films.

A ratings file is read apart from the film formats: it may hold 25M rows, so rows are not parsed into records
but checked and matched in a tight loop (a film by its MovieLens id, from links imported before or in the same
run), written with one COPY into a temporary table per batch, and merged by one upsert keyed on (source, user,
film). A batch commits on its own, so an interrupted import keeps whole batches and a re-run only finds them
unchanged; memory holds one batch, whatever the file's size.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from catalog.importers.formats import RATING_COLUMNS, _open_text, rating_values
from catalog.importers.records import RowError
from catalog.models import ImportedRating

# Rows per transaction: large enough that the per-batch round trips vanish (100k rows in about a second),
# small enough that a batch's lines stay a few megabytes.
BATCH_ROWS = 100_000
TEMP_TABLE = "import_ratings"
NULL = "\\N"  # COPY's text format


@dataclass
class RatingCounts:
    rows: int = 0
    new: int = 0  # ratings the catalog did not hold
    changed: int = 0  # ratings whose stars or time changed
    unchanged: int = 0  # ratings already held as they are (a re-run), or repeated within the file
    unmatched: int = 0  # rows about films the catalog does not have


def source_name(path: Path) -> str:
    """The default `source` of a file's users: its name without extensions ("ratings_small")."""
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name[: ImportedRating._meta.get_field("source").max_length]


def import_ratings(
    path: Path,
    *,
    source: str,
    film_of: Mapping[int, object],
    encoding: str = "utf-8-sig",
    limit: int | None = None,
    batch_rows: int = BATCH_ROWS,
    skip: Callable[[int, str, str], None],
    advance: Callable[[int], None] = lambda rows: None,
) -> RatingCounts:
    """Upsert every good row of a ratings file whose film is known; `film_of` maps a MovieLens id to a film id.

    Bad rows go to `skip(line, message, reason)`; `advance(rows)` is told how many rows each batch read.
    """
    counts = RatingCounts()
    with _open_text(path, encoding) as handle:
        reader = csv.reader(handle)
        header = [column.strip().lstrip("\ufeff").strip() for column in next(reader, [])]
        positions = [header.index(column) if column in header else None for column in RATING_COLUMNS]
        width = len(header)
        lines: list[str] = []
        read_in_batch = 0
        while limit is None or counts.rows < limit:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except (csv.Error, EOFError, OSError) as exc:
                skip(line, f"unreadable from here on: {exc}", "unreadable")
                break
            counts.rows += 1
            read_in_batch += 1
            if len(values) != width:
                skip(line, f"{len(values)} fields where the header has {width}", f"{len(values)} fields")
                continue
            cells = [values[p] if p is not None else "" for p in positions]
            try:
                user, movie, stars, timestamp = rating_values(cells)
            except RowError as exc:
                skip(line, f"column {exc.column}: {exc}", f"column {exc.column}")
                continue
            film = film_of.get(movie)
            if not isinstance(film, int):
                counts.unmatched += 1
                continue
            lines.append(f"{line}\t{user}\t{film}\t{stars}\t{NULL if timestamp is None else timestamp}\n")
            if len(lines) >= batch_rows:
                _write_batch(lines, source, counts)
                lines = []
                advance(read_in_batch)
                read_in_batch = 0
        if lines:
            _write_batch(lines, source, counts)
        advance(read_in_batch)
    return counts


def _write_batch(lines: list[str], source: str, counts: RatingCounts) -> None:
    """COPY one batch into the temporary table and merge it: a rating named twice in the batch keeps its
    last row; a rating that is already held as it is is left alone (no dead row, no WAL)."""
    table = ImportedRating._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {TEMP_TABLE} "
            "(line bigint, user_id integer, movie_id bigint, rating double precision, ts bigint)"
        )
        cursor.execute(f"TRUNCATE {TEMP_TABLE}")
        with cursor.cursor.copy(f"COPY {TEMP_TABLE} FROM STDIN") as copy:
            copy.write("".join(lines))
        cursor.execute(
            f"""
            WITH incoming AS (
                SELECT DISTINCT ON (user_id, movie_id) user_id, movie_id, rating, ts
                FROM {TEMP_TABLE} ORDER BY user_id, movie_id, line DESC
            ), written AS (
                INSERT INTO {table} (source, "user", movie_id, rating, rated_at)
                SELECT %s, user_id, movie_id, rating, to_timestamp(ts) FROM incoming
                ON CONFLICT (source, "user", movie_id) DO UPDATE
                    SET rating = EXCLUDED.rating, rated_at = EXCLUDED.rated_at
                    WHERE ({table}.rating, {table}.rated_at) IS DISTINCT FROM (EXCLUDED.rating, EXCLUDED.rated_at)
                RETURNING xmax = 0 AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
            """,
            [source],
        )
        new, changed = cursor.fetchone()
    counts.new += new
    counts.changed += changed
    counts.unchanged += len(lines) - new - changed
