"""Bring your ratings: a Letterboxd or IMDb ratings export, read, matched to visible films and saved.

- Letterboxd `ratings.csv`: `Date,Name,Year,Letterboxd URI,Rating` (½ to 5 stars). Matched by the title folded
  as the importer folds it (no accents, case, punctuation or leading article) and the year ±1; among several
  such films the one of the same year, then the best known.
- IMDb ratings export: `Const,Your Rating,Date Rated,Title,...,Year,...` (1 to 10, halved to ½ to 5 stars).
  Matched by IMDb id (`Const`).

Limits, checked before any row is parsed: MAX_UPLOAD_BYTES and MAX_ROWS. A bad row is reported by its line
and skipped; good rows still land. Importing the same file twice changes nothing the second time: a rating is
written only when its stars differ. When a file names a film twice, its last row wins.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.models import Movie, Rating, WatchlistEntry, normalise_title
from catalog.ratings import parse_stars

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_TITLE = 500
# Reported rows are capped so that a file of 20,000 unknown films still answers in a reasonable size.
MAX_REPORTED = 1000
IMDB_CONST = re.compile(r"tt([0-9]{1,12})")

LETTERBOXD_COLUMNS = {"name", "year", "rating"}
IMDB_COLUMNS = {"const", "your rating"}


class RatingsFileError(ValueError):
    """The file as a whole cannot be read (too large, not text, not a ratings export)."""


@dataclass(frozen=True)
class ParsedRating:
    line: int
    title: str
    year: int | None
    stars: Decimal
    imdb_id: str | None = None


@dataclass(frozen=True)
class UnmatchedRow:
    line: int
    title: str
    year: int | None


@dataclass(frozen=True)
class SkippedRow:
    line: int
    error: str


@dataclass
class ParsedFile:
    format: str
    ratings: list[ParsedRating] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)


@dataclass
class RatingsImport:
    """What an upload did. `matched` counts the rows that found a film; of those films' ratings, `created`
    are new, `updated` had other stars, `unchanged` were already so."""

    format: str = ""
    rows: int = 0
    matched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: list[UnmatchedRow] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data["unmatched"] = data["unmatched"][:MAX_REPORTED]
        data["skipped"] = data["skipped"][:MAX_REPORTED]
        data.pop("error")
        return data


def parse_export(data: bytes) -> ParsedFile:
    """The ratings of a Letterboxd or IMDb export, with its bad rows; RatingsFileError if it is neither."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise RatingsFileError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    if data.count(b"\n") > MAX_ROWS + 1:  # an upper bound of the rows (a quoted field may hold a line break)
        raise RatingsFileError(f"The file has more than {MAX_ROWS:,} rows.")
    if b"\x00" in data:
        raise RatingsFileError("This is not a CSV text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # older IMDb exports
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as error:
        raise RatingsFileError(f"The header cannot be read: {error}.") from None
    if set(header) >= IMDB_COLUMNS:
        parsed, parse_row = ParsedFile("imdb"), _imdb_row
    elif set(header) >= LETTERBOXD_COLUMNS:
        parsed, parse_row = ParsedFile("letterboxd"), _letterboxd_row
    else:
        raise RatingsFileError(
            "Not a ratings export: expected Letterboxd's ratings.csv (Date,Name,Year,Letterboxd URI,Rating) "
            "or IMDb's ratings export (Const,Your Rating,Date Rated,Title,...,Year,...)."
        )
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            parsed.skipped.append(SkippedRow(reader.line_num, f"unreadable CSV: {error}"))
            continue
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            parsed.skipped.append(SkippedRow(line, f"{len(values)} fields where the header has {len(header)}"))
            continue
        try:
            parsed.ratings.append(parse_row(line, dict(zip(header, values, strict=True))))
        except ValueError as error:
            parsed.skipped.append(SkippedRow(line, str(error)))
    return parsed


def _year(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or not 1800 <= int(value) <= 2200:
        raise ValueError(f"Year {value!r} is not a year")
    return int(value)


def _title(value: str) -> str:
    title = value.strip()
    if not title:
        raise ValueError("no title")
    if len(title) > MAX_TITLE:
        raise ValueError(f"a title longer than {MAX_TITLE} characters")
    return title


def _letterboxd_row(line: int, row: dict[str, str]) -> ParsedRating:
    if not row["rating"].strip():
        raise ValueError("no rating (Letterboxd's ratings.csv lists rated films only)")
    try:
        stars = parse_stars(row["rating"])
    except ValueError as error:
        raise ValueError(f"Rating: {error}") from None
    return ParsedRating(line=line, title=_title(row["name"]), year=_year(row["year"]), stars=stars)


def _imdb_row(line: int, row: dict[str, str]) -> ParsedRating:
    match = IMDB_CONST.fullmatch(row["const"].strip())
    if not match:
        raise ValueError(f"Const {row['const'].strip()!r} is not an IMDb id like tt0068646")
    value = row["your rating"].strip()
    if not value.isdigit() or not 1 <= int(value) <= 10:
        raise ValueError(f"Your Rating {value!r} is not a whole number from 1 to 10")
    return ParsedRating(
        line=line,
        title=row.get("title", "").strip()[:MAX_TITLE],
        year=_year(row.get("year", "")),
        stars=(Decimal(int(value)) / 2).quantize(Decimal("0.1")),
        imdb_id=f"tt{int(match.group(1)):07d}",
    )


def match_films(parsed: ParsedFile) -> dict[int, int]:
    """{line: film id} for the rows that name a visible film."""
    if parsed.format == "imdb":
        ids = {rating.imdb_id for rating in parsed.ratings}
        films = dict(Movie.objects.visible().filter(imdb_id__in=ids).values_list("imdb_id", "pk"))
        return {rating.line: films[rating.imdb_id] for rating in parsed.ratings if rating.imdb_id in films}
    wanted = {normalise_title(rating.title) for rating in parsed.ratings}
    # Folded titles cannot be looked up in the database, so the visible films are read once (id, titles, year:
    # about 0.1 s at 35k films) and folded here, as the importer's Matcher does.
    by_title: dict[str, list[tuple[int, int | None, int]]] = {}
    rows = Movie.objects.visible().values_list("pk", "title", "original_title", "year", "vote_count")
    for pk, title, original_title, year, votes in rows.iterator(chunk_size=10_000):
        for name in {normalise_title(title), normalise_title(original_title or title)}:
            if name in wanted:
                by_title.setdefault(name, []).append((pk, year, votes or 0))
    matches = {}
    for rating in parsed.ratings:
        candidates = [
            (abs(year - rating.year) if year is not None and rating.year is not None else 1, -votes, pk)
            for pk, year, votes in by_title.get(normalise_title(rating.title), [])
            if year is None or rating.year is None or abs(year - rating.year) <= 1
        ]
        if candidates:
            matches[rating.line] = min(candidates)[2]
    return matches


def import_ratings(*, user, data: bytes) -> RatingsImport:
    """Read an export, match its rows to visible films and save the user's ratings (see the module's notes)."""
    try:
        parsed = parse_export(data)
    except RatingsFileError as error:
        return RatingsImport(error=str(error))
    result = RatingsImport(format=parsed.format, rows=len(parsed.ratings) + len(parsed.skipped))
    result.skipped = parsed.skipped
    matches = match_films(parsed)
    wanted: dict[int, Decimal] = {}
    for rating in parsed.ratings:
        if rating.line in matches:
            result.matched += 1
            wanted[matches[rating.line]] = rating.stars  # a later row of the same film wins
        else:
            result.unmatched.append(UnmatchedRow(rating.line, rating.title, rating.year))
    _save(user, wanted, source=parsed.format, result=result)
    return result


def _save(user, wanted: dict[int, Decimal], *, source: str, result: RatingsImport) -> None:
    with transaction.atomic():
        existing = {r.movie_id: r for r in Rating.objects.select_for_update().filter(user=user, movie_id__in=wanted)}
        new = [
            Rating(user=user, movie_id=pk, stars=stars, source=source)
            for pk, stars in wanted.items()
            if pk not in existing
        ]
        changed = [existing[pk] for pk, stars in wanted.items() if pk in existing and existing[pk].stars != stars]
        Rating.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        now = timezone.now()
        for rating in changed:
            rating.stars, rating.source, rating.updated_at = wanted[rating.movie_id], source, now
        Rating.objects.bulk_update(changed, ["stars", "source", "updated_at"], batch_size=1000)
        rated = [rating.movie_id for rating in [*new, *changed]]
        WatchlistEntry.objects.filter(user=user, movie_id__in=rated).delete()
    result.created, result.updated = len(new), len(changed)
    result.unchanged = len(wanted) - len(new) - len(changed)
