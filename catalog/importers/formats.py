"""Dataset formats: which one a CSV header is, and how one of its rows becomes a MovieRecord."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from catalog.importers.records import MovieRecord, RowError

LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Format:
    name: str
    required: frozenset[str]
    parse: Callable[[dict[str, str]], MovieRecord]
    description: str = ""


def _text(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _list(row: dict[str, str], column: str) -> list[str]:
    return [item.strip() for item in _text(row, column).split(LIST_SEPARATOR) if item.strip()]


def _int(row: dict[str, str], column: str, *, low: int = 0, high: int = 2**31 - 1) -> int | None:
    value = _text(row, column)
    if not value:
        return None
    try:
        number = int(float(value))
    except ValueError:
        raise RowError(f"{value!r} is not a number", column) from None
    if not low <= number <= high:
        raise RowError(f"{number} is out of range {low}..{high}", column)
    return number


def _float(row: dict[str, str], column: str) -> float | None:
    value = _text(row, column)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise RowError(f"{value!r} is not a number", column) from None


def _date(row: dict[str, str], column: str) -> date | None:
    value = _text(row, column)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{value!r} is not a date (YYYY-MM-DD)", column) from None


def _imdb_id(row: dict[str, str], column: str) -> str | None:
    value = _text(row, column)
    if not value:
        return None
    digits = value[2:] if value.startswith("tt") else value
    if not digits.isdigit():
        raise RowError(f"{value!r} is not an IMDb id like tt0068646", column)
    return f"tt{int(digits):07d}"


def parse_fixture(row: dict[str, str]) -> MovieRecord:
    """Our own demo-catalog format (fixtures/README.md)."""
    title = _text(row, "title")
    if not title:
        raise RowError("title is empty", "title")
    release_date = _date(row, "release_date")
    year = _int(row, "year", low=1870, high=2100) or (release_date.year if release_date else None)
    return MovieRecord(
        title=title,
        year=year,
        release_date=release_date,
        original_title=_text(row, "original_title"),
        original_language=_text(row, "original_language").lower(),
        countries=[c.upper() for c in _list(row, "countries")],
        runtime=_int(row, "runtime", high=2000),
        genres=_list(row, "genres"),
        keywords=[k.lower() for k in _list(row, "keywords")],
        directors=_list(row, "directors"),
        cast=_list(row, "cast"),
        overview=_text(row, "overview"),
        plot=_text(row, "plot"),
        tagline=_text(row, "tagline"),
        poster_url=_text(row, "poster_url"),
        imdb_id=_imdb_id(row, "imdb_id"),
        tmdb_id=_int(row, "tmdb_id", low=1),
        vote_average=_float(row, "vote_average"),
        vote_count=_int(row, "vote_count"),
        popularity=_float(row, "popularity"),
        featured=_text(row, "featured").lower() in {"1", "true", "yes"} if _text(row, "featured") else None,
    )


FORMATS: dict[str, Format] = {
    "fixture": Format(
        name="fixture",
        required=frozenset({"title", "year", "genres", "directors", "cast", "overview"}),
        parse=parse_fixture,
        description="moviesite demo catalog (fixtures/README.md)",
    ),
}


class FormatError(ValueError):
    """The file as a whole cannot be read (unreadable, not CSV, unknown header, missing columns)."""


def detect_format(header: list[str], path: Path) -> Format:
    """The format whose required columns the header holds."""
    columns = {column.strip() for column in header}
    for fmt in FORMATS.values():
        if fmt.required <= columns:
            return fmt
    known = ", ".join(sorted(FORMATS))
    raise FormatError(f"{path}: header {sorted(columns)} matches no known format ({known}); use --format.")


@dataclass
class ParsedRow:
    line: int
    record: MovieRecord | None = None
    error: str = ""


def read_rows(path: Path, *, format_name: str | None = None) -> tuple[Format, Iterator[ParsedRow]]:
    """Open a CSV (plain or .gz), pick its format, and yield each row parsed or with its error."""
    try:
        raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
        handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(handle)
        header = reader.fieldnames
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FormatError(f"{path}: cannot read it as CSV ({exc})") from exc
    if not header:
        raise FormatError(f"{path}: the file is empty")
    if format_name:
        if format_name not in FORMATS:
            raise FormatError(f"unknown format {format_name!r}; known: {', '.join(sorted(FORMATS))}")
        fmt = FORMATS[format_name]
        missing = fmt.required - {column.strip() for column in header}
        if missing:
            raise FormatError(f"{path}: missing column(s) {', '.join(sorted(missing))} for format {fmt.name}")
    else:
        fmt = detect_format(header, path)

    def rows() -> Iterator[ParsedRow]:
        with handle:
            line = 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    yield ParsedRow(line=reader.line_num or line, error=f"unreadable row: {exc}")
                    return
                line = reader.line_num
                if None in row:  # more fields than the header names
                    yield ParsedRow(line=line, error=f"{len(header) + len(row[None])} fields, header has {len(header)}")
                    continue
                try:
                    record = fmt.parse(row)
                except RowError as exc:
                    where = f"column {exc.column}: " if exc.column else ""
                    yield ParsedRow(line=line, error=f"{where}{exc}")
                    continue
                record.source_row = str(line)
                yield ParsedRow(line=line, record=record)

    return fmt, rows()
