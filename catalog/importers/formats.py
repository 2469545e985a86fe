"""Dataset formats: which one a CSV header is, and how one of its rows becomes a MovieRecord.

Each format names the columns that identify it and parses one row; rows that can only enrich films that
already exist (keywords, credits and links files carry an id but no year) are marked as such.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from catalog.importers.records import MovieRecord, RowError, normalise_genre
from catalog.validators import is_displayable_poster

# Wikipedia plots run to tens of kilobytes; the csv module's default limit is 128 KiB a field.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

TMDB_POSTER_BASE = "https://image.tmdb.org/t/p/w500"
MAX_CAST = 10


@dataclass(frozen=True)
class Format:
    name: str
    required: frozenset[str]
    parse: Callable[[dict[str, str]], MovieRecord]
    description: str
    creates: bool = True  # False: rows only enrich films that already exist (matched by external id)
    id_columns: tuple[tuple[str, str], ...] = ()  # (column, external id) pairs that identify a row's film
    full_credits: bool = False  # its credits are complete and ordered: they replace another source's
    ratings: bool = False  # rows are users' ratings of films, not films (catalog/importers/ratings.py)

    def row_ids(self, row: dict[str, str]) -> dict[str, object] | None:
        """The external ids a raw row names, read without parsing the rest; None if one is malformed."""
        ids = {}
        for column, name in self.id_columns:
            try:
                value = _imdb_id(_text(row, column), column) if name == "imdb_id" else _int(row, column, low=1)
            except RowError:
                return None
            if value is not None:
                ids[name] = value
        return ids


# -- cell parsers: each raises RowError naming its column -------------------------------------------------


def _text(row: dict[str, str], column: str) -> str:
    value = row.get(column) or ""
    return " ".join(value.split()) if "\n" not in value else value.strip()


def _split(row: dict[str, str], column: str, separator: str = "|") -> list[str]:
    pattern = "[" + re.escape(separator) + "]"
    return [item.strip() for item in re.split(pattern, _text(row, column)) if item.strip()]


def _int(row: dict[str, str], column: str, *, low: int = 0, high: int = 2**31 - 1) -> int | None:
    value = _text(row, column).replace(",", "")
    if not value or value.lower() in {"nan", "none", "null"}:
        return None
    try:
        number = int(float(value))
    except (ValueError, OverflowError):
        raise RowError(f"{value!r} is not a number", column) from None
    if not low <= number <= high:
        raise RowError(f"{number} is out of range {low}..{high}", column)
    return number


def _float(row: dict[str, str], column: str) -> float | None:
    value = _text(row, column).replace(",", "")
    if not value or value.lower() in {"nan", "none", "null"}:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{value!r} is not a number", column) from None
    if number != number or number in {float("inf"), float("-inf")}:
        raise RowError(f"{value!r} is not a finite number", column)
    return number


def _year(row: dict[str, str], column: str) -> int | None:
    return _int(row, column, low=1870, high=2100)


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d %B %Y", "%B %d, %Y", "%d %b %Y", "%b %d, %Y")


def _date(row: dict[str, str], column: str) -> date | None:
    """ISO dates and the other spellings datasets use; a bare year gives no date (the year is kept apart)."""
    value = _text(row, column)
    if not value or re.fullmatch(r"\d{4}", value):
        return None
    candidate = value[:10] if re.match(r"\d{4}-\d{2}-\d{2}[T ]", value) else value
    for pattern in DATE_FORMATS:
        try:
            parsed = datetime.strptime(candidate, pattern).date()
        except ValueError:
            continue
        if 1870 <= parsed.year <= 2100:
            return parsed
    raise RowError(f"{value!r} is not a date", column)


def _runtime(row: dict[str, str], column: str) -> int | None:
    """Minutes from "142", "142 min", "142.0" or "2h 22min"."""
    value = _text(row, column).lower()
    if not value or value in {"nan", "none"}:
        return None
    match = re.fullmatch(r"(?:(\d+)\s*h(?:ours?|rs?)?)?\s*(?:(\d+(?:\.\d+)?)\s*(?:m|min|mins|minutes)?)?", value)
    if not match or not any(match.groups()):
        raise RowError(f"{value!r} is not a running time", column)
    total = int(match.group(1) or 0) * 60 + int(float(match.group(2) or 0))
    if total > 2000:
        raise RowError(f"{total} minutes is not a running time", column)
    return total or None


def _imdb_id(value: str, column: str) -> str | None:
    value = value.strip()
    if not value or value.lower() in {"nan", "none", "0"}:
        return None
    digits = value[2:] if value.startswith("tt") else value
    if digits.endswith(".0"):
        digits = digits[:-2]
    if not digits.isdigit():
        raise RowError(f"{value!r} is not an IMDb id like tt0068646", column)
    return f"tt{int(digits):07d}"


def _structured(row: dict[str, str], column: str) -> list[dict]:
    """A JSON-in-CSV column: JSON (TMDB 5000) or a Python literal (The Movies Dataset)."""
    value = _text(row, column)
    if not value or value in {"[]", "nan"}:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise RowError("broken JSON", column) from None
    if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
        raise RowError("expected a JSON list of objects", column)
    return parsed


def _names(row: dict[str, str], column: str) -> list[str]:
    return [str(item["name"]).strip() for item in _structured(row, column) if str(item.get("name", "")).strip()]


def _genres(names: list[str]) -> list[str]:
    return list(dict.fromkeys(genre for genre in map(normalise_genre, names) if genre))


def _people(value: str) -> list[str]:
    """People from "A, B and C" or "A / B" lists; "Unknown" is nobody."""
    parts = re.split(r",|/|;| and | & |\|", value)
    return [p.strip() for p in parts if p.strip() and p.strip().lower() not in {"unknown", "n/a", "nan", "none"}]


def _poster(value: str) -> str:
    value = value.strip()
    if not value or value.lower() == "nan":
        return ""
    if value.startswith("/"):
        return TMDB_POSTER_BASE + value
    # IMDb thumbnails (…._V1_UX67_CR0,0,67,98_AL_.jpg) ask for 67 px; the same image at 300 px wide.
    if not is_displayable_poster(value):
        return ""
    return re.sub(r"\._V1_[^/]*\.(jpg|jpeg|png)$", r"._V1_SX300.\1", value)


def _title_year(value: str) -> tuple[str, int | None]:
    """MovieLens titles carry their year: "Toy Story (1995)", "Matrix, The (1999)"."""
    match = re.fullmatch(r"(.*?)\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*", value)
    title, year = (match.group(1), int(match.group(2))) if match else (value.strip(), None)
    article = re.fullmatch(r"(.*), (The|A|An|Les|Le|La|L'|Il|Das|Der|Die|El)", title)
    if article:
        title = f"{article.group(2)} {article.group(1)}".replace("L' ", "L'")
    return title, year


def _required_title(value: str, column: str) -> str:
    if not value.strip():
        raise RowError("title is empty", column)
    return value.strip()


# -- formats ---------------------------------------------------------------------------------------------


def parse_fixture(row: dict[str, str]) -> MovieRecord:
    release_date = _date(row, "release_date")
    return MovieRecord(
        title=_required_title(_text(row, "title"), "title"),
        year=_year(row, "year") or (release_date.year if release_date else None),
        release_date=release_date,
        original_title=_text(row, "original_title"),
        original_language=_text(row, "original_language").lower(),
        countries=[c.upper() for c in _split(row, "countries")],
        runtime=_runtime(row, "runtime"),
        genres=_genres(_split(row, "genres")),
        keywords=[k.lower() for k in _split(row, "keywords")],
        directors=_split(row, "directors"),
        cast=_split(row, "cast"),
        overview=_text(row, "overview"),
        plot=_text(row, "plot"),
        tagline=_text(row, "tagline"),
        poster_url=_poster(_text(row, "poster_url")),
        imdb_id=_imdb_id(_text(row, "imdb_id"), "imdb_id"),
        tmdb_id=_int(row, "tmdb_id", low=1),
        vote_average=_float(row, "vote_average"),
        vote_count=_int(row, "vote_count"),
        popularity=_float(row, "popularity"),
        featured=_text(row, "featured").lower() in {"1", "true", "yes"} if _text(row, "featured") else None,
    )


def parse_tmdb_movies(row: dict[str, str]) -> MovieRecord:
    """TMDB 5000 movies and The Movies Dataset's movies_metadata (JSON or Python-literal list columns)."""
    release_date = _date(row, "release_date")
    return MovieRecord(
        title=_required_title(_text(row, "title") or _text(row, "original_title"), "title"),
        year=release_date.year if release_date else None,
        release_date=release_date,
        original_title=_text(row, "original_title"),
        original_language=_text(row, "original_language").lower(),
        countries=[str(c.get("iso_3166_1", "")).upper() for c in _structured(row, "production_countries")][:8],
        runtime=_runtime(row, "runtime"),
        genres=_genres(_names(row, "genres")),
        keywords=[k.lower() for k in _names(row, "keywords")] if "keywords" in row else [],
        overview=_text(row, "overview"),
        tagline=_text(row, "tagline"),
        poster_url=_poster(_text(row, "poster_path")),
        imdb_id=_imdb_id(_text(row, "imdb_id"), "imdb_id"),
        tmdb_id=_int(row, "id", low=1),
        vote_average=_float(row, "vote_average"),
        vote_count=_int(row, "vote_count"),
        popularity=_float(row, "popularity"),
    )


def _credits(row: dict[str, str], *, id_column: str) -> MovieRecord:
    cast = sorted(_structured(row, "cast"), key=lambda person: person.get("order", 0))[:MAX_CAST]
    crew = _structured(row, "crew")
    return MovieRecord(
        title=_text(row, "title"),
        tmdb_id=_int(row, id_column, low=1),
        directors=[str(p["name"]) for p in crew if p.get("job") == "Director" and p.get("name")],
        cast=[str(p["name"]) for p in cast if p.get("name")],
        characters=[str(p.get("character") or "") for p in cast if p.get("name")],
    )


def parse_tmdb_credits(row: dict[str, str]) -> MovieRecord:
    """TMDB 5000 credits: movie_id, title, cast, crew."""
    return _credits(row, id_column="movie_id")


def parse_credits(row: dict[str, str]) -> MovieRecord:
    """The Movies Dataset credits: cast, crew, id."""
    return _credits(row, id_column="id")


def parse_keywords(row: dict[str, str]) -> MovieRecord:
    """The Movies Dataset keywords: id, keywords."""
    return MovieRecord(title="", tmdb_id=_int(row, "id", low=1), keywords=[k.lower() for k in _names(row, "keywords")])


def parse_links(row: dict[str, str]) -> MovieRecord:
    """MovieLens / The Movies Dataset links: movieId, imdbId, tmdbId."""
    return MovieRecord(
        title="",
        movielens_id=_int(row, "movieId", low=1),
        imdb_id=_imdb_id(_text(row, "imdbId"), "imdbId"),
        tmdb_id=_int(row, "tmdbId", low=1),
    )


def parse_rating(row: dict[str, str]) -> MovieRecord:
    """MovieLens ratings (userId, movieId, rating, timestamp): a row names its film by MovieLens id only.

    The ratings importer reads these files itself (catalog/importers/ratings.py, millions of rows); this
    parse checks one row the same way and gives the film it is about, for code that reads any format.
    """
    _, movie_id, _, _ = rating_values([row.get(column, "") for column in RATING_COLUMNS])
    return MovieRecord(title="", movielens_id=movie_id)


RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MAX_TIMESTAMP = 4_102_444_800  # 2100-01-01


def rating_values(values: list[str]) -> tuple[int, int, float, int | None]:
    """(user, MovieLens film id, stars, Unix time or None) from a ratings row's four cells, in
    RATING_COLUMNS order; RowError names the first bad column."""
    try:  # the fast path, taken by nearly every row of a 25M-row file
        user, movie, stars = int(values[0]), int(values[1]), float(values[2])
        timestamp = int(values[3]) if values[3] else None
        if 0 < user < 2**31 and 0 < movie < 2**31 and 0.5 <= stars <= 5 and 0 <= (timestamp or 0) <= MAX_TIMESTAMP:
            return user, movie, stars, timestamp
    except ValueError:
        pass
    cells = dict(zip(RATING_COLUMNS, values, strict=True))
    user = _int(cells, "userId", low=1)
    movie = _int(cells, "movieId", low=1)
    if user is None or movie is None:
        raise RowError("is empty", "userId" if user is None else "movieId")
    stars = _float(cells, "rating")
    if stars is None or not 0.5 <= stars <= 5:
        raise RowError(f"{cells['rating']!r} is not a rating from 0.5 to 5", "rating")
    return user, movie, stars, _int(cells, "timestamp", high=MAX_TIMESTAMP)


def parse_movielens_movies(row: dict[str, str]) -> MovieRecord:
    """MovieLens movies: movieId, title ("Heat (1995)"), genres ("Action|Crime")."""
    title, year = _title_year(_text(row, "title"))
    return MovieRecord(
        title=_required_title(title, "title"),
        year=year,
        movielens_id=_int(row, "movieId", low=1),
        genres=_genres(_split(row, "genres")),
    )


def parse_imdb_top_1000(row: dict[str, str]) -> MovieRecord:
    """IMDB Top 1000 (Kaggle): Series_Title, Released_Year, Runtime "142 min", Star1..Star4, No_of_Votes."""
    return MovieRecord(
        title=_required_title(_text(row, "Series_Title"), "Series_Title"),
        year=_year(row, "Released_Year"),
        runtime=_runtime(row, "Runtime"),
        genres=_genres(_split(row, "Genre", ",")),
        vote_average=_float(row, "IMDB_Rating"),
        vote_count=_int(row, "No_of_Votes"),
        overview=_text(row, "Overview"),
        directors=_people(_text(row, "Director")),
        cast=[name for name in (_text(row, f"Star{i}") for i in range(1, 5)) if name],
        poster_url=_poster(_text(row, "Poster_Link")),
    )


def parse_imdb_movie_data(row: dict[str, str]) -> MovieRecord:
    """IMDB-Movie-Data 2006-2016 (Kaggle): Rank, Title, Genre, Description, Director, Actors, Year..."""
    return MovieRecord(
        title=_required_title(_text(row, "Title"), "Title"),
        year=_year(row, "Year"),
        runtime=_runtime(row, "Runtime (Minutes)"),
        genres=_genres(_split(row, "Genre", ",")),
        overview=_text(row, "Description"),
        directors=_people(_text(row, "Director")),
        cast=_people(_text(row, "Actors")),
        vote_average=_float(row, "Rating"),
        vote_count=_int(row, "Votes"),
    )


def parse_kaggle_48k(row: dict[str, str]) -> MovieRecord:
    """Kaggle "48,000+ movies" (awesome-moviate's movie_data.csv): Name, PosterLink, Genres, Actors..."""
    published = _date(row, "DatePublished")
    source_id = _text(row, "id")
    return MovieRecord(
        title=_required_title(_text(row, "Name"), "Name"),
        year=published.year if published else _year(row, "DatePublished"),
        release_date=published,
        poster_url=_poster(_text(row, "PosterLink")),
        genres=_genres(_split(row, "Genres", ",")),
        cast=_people(_text(row, "Actors"))[:MAX_CAST],
        directors=_people(_text(row, "Director")),
        overview=_text(row, "Description"),
        keywords=[k.lower() for k in _split(row, "Keywords", ",")],
        imdb_id=_imdb_id(source_id, "id") if source_id.startswith("tt") else None,
        vote_average=_float(row, "RatingValue") if "RatingValue" in row else None,
        vote_count=_int(row, "RatingCount") if "RatingCount" in row else None,
    )


def parse_wikipedia_plots(row: dict[str, str]) -> MovieRecord:
    """Kaggle "Wikipedia Movie Plots": Release Year, Title, Origin/Ethnicity, Director, Cast, Genre, Plot."""
    return MovieRecord(
        title=_required_title(_text(row, "Title"), "Title"),
        year=_year(row, "Release Year"),
        directors=_people(_text(row, "Director")),
        cast=_people(_text(row, "Cast"))[:MAX_CAST],
        genres=_genres(re.split(r"[,/]| - ", _text(row, "Genre"))),
        plot=_text(row, "Plot"),
    )


FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format(
            "fixture",
            frozenset({"title", "year", "genres", "directors", "cast", "overview"}),
            parse_fixture,
            "moviesite demo catalog (fixtures/README.md)",
        ),
        Format(
            "tmdb-movies",
            frozenset({"id", "title", "original_title", "genres", "overview", "release_date", "vote_average"}),
            parse_tmdb_movies,
            "TMDB 5000 movies, or The Movies Dataset movies_metadata",
        ),
        Format(
            "tmdb-credits",
            frozenset({"movie_id", "title", "cast", "crew"}),
            parse_tmdb_credits,
            "TMDB 5000 credits",
            creates=False,
            id_columns=(("movie_id", "tmdb_id"),),
            full_credits=True,
        ),
        Format(
            "credits",
            frozenset({"cast", "crew", "id"}),
            parse_credits,
            "The Movies Dataset credits",
            creates=False,
            id_columns=(("id", "tmdb_id"),),
            full_credits=True,
        ),
        Format(
            "keywords",
            frozenset({"id", "keywords"}),
            parse_keywords,
            "The Movies Dataset keywords",
            creates=False,
            id_columns=(("id", "tmdb_id"),),
        ),
        Format(
            "links",
            frozenset({"movieId", "imdbId", "tmdbId"}),
            parse_links,
            "MovieLens or The Movies Dataset links",
            creates=False,
            id_columns=(("movieId", "movielens_id"), ("imdbId", "imdb_id"), ("tmdbId", "tmdb_id")),
        ),
        Format(
            "ratings",
            frozenset({"userId", "movieId", "rating"}),
            parse_rating,
            "MovieLens ratings.csv or The Movies Dataset ratings_small.csv (read after the links)",
            creates=False,
            id_columns=(("movieId", "movielens_id"),),
            ratings=True,
        ),
        Format(
            "movielens-movies", frozenset({"movieId", "title", "genres"}), parse_movielens_movies, "MovieLens movies"
        ),
        Format(
            "imdb-top-1000",
            frozenset({"Series_Title", "Released_Year", "Genre", "Director", "Star1"}),
            parse_imdb_top_1000,
            "IMDB Top 1000 (Kaggle)",
        ),
        Format(
            "imdb-movie-data",
            frozenset({"Title", "Genre", "Description", "Director", "Actors", "Year"}),
            parse_imdb_movie_data,
            "IMDB-Movie-Data 2006-2016 (Kaggle)",
        ),
        Format(
            "kaggle-48k",
            frozenset({"id", "Name", "PosterLink", "Genres", "Actors", "Director", "Description", "DatePublished"}),
            parse_kaggle_48k,
            'Kaggle "48,000+ movies" (awesome-moviate)',
        ),
        Format(
            "wikipedia-plots",
            frozenset({"Release Year", "Title", "Director", "Cast", "Genre", "Plot"}),
            parse_wikipedia_plots,
            'Kaggle "Wikipedia Movie Plots"',
        ),
    )
}


def describe_formats() -> str:
    """One line naming every format and the files it reads, for the command's help."""
    return "; ".join(f"{fmt.name}: {fmt.description}" for fmt in FORMATS.values())


class FormatError(ValueError):
    """The file as a whole cannot be read (unreadable, not CSV, unknown header, missing columns)."""


def detect_format(header: list[str], path: Path) -> Format:
    """The most specific format whose identifying columns the header holds."""
    columns = set(header)
    matches = [fmt for fmt in FORMATS.values() if fmt.required <= columns]
    if not matches:
        known = ", ".join(sorted(FORMATS))
        shown = ", ".join(sorted(columns)[:20])
        raise FormatError(f"{path}: header ({shown}) matches no known format ({known}); use --format.")
    return max(matches, key=lambda fmt: len(fmt.required))


@dataclass
class ParsedRow:
    line: int
    record: MovieRecord | None = None
    error: str = ""
    unwanted: bool = False


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    # surrogateescape keeps undecodable bytes, so one badly encoded row is reported and skipped, not fatal.
    return io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")


def count_rows(path: Path, *, encoding: str = "utf-8-sig") -> int | None:
    """Rows after the header (a fast pass, for the progress bar's ETA); None if the file cannot be read."""
    try:
        with _open_text(path, encoding) as handle:
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
    except (OSError, csv.Error, EOFError, gzip.BadGzipFile):
        return None


def read_rows(
    path: Path,
    *,
    format_name: str | None = None,
    encoding: str = "utf-8-sig",
    wanted: Callable[[Format, dict[str, str]], bool] | None = None,
) -> tuple[Format, RowStream]:
    """Open a CSV (plain or .gz), pick its format, and yield each row parsed or with its error.

    Rows for which `wanted(format, raw row)` is false are yielded unparsed, marked `unwanted` (an enrichment
    file's rows for films not in the catalog: parsing their JSON would be most of the work).
    """
    try:
        handle = _open_text(path, encoding)
        reader = csv.DictReader(handle)
        header = reader.fieldnames
    except (OSError, EOFError, gzip.BadGzipFile, csv.Error, LookupError) as exc:
        raise FormatError(f"{path}: cannot read it as CSV ({exc})") from exc
    if not header:
        raise FormatError(f"{path}: the file is empty")
    # A byte-order mark survives an explicit "utf-8" encoding; it is never part of a column's name.
    header = [column.strip().lstrip("\ufeff").strip() for column in header]
    if any(_undecodable(column) for column in header):
        raise FormatError(f"{path}: the header is not valid {encoding} text; use --encoding (e.g. latin-1)")
    if format_name:
        if format_name not in FORMATS:
            raise FormatError(f"unknown format {format_name!r}; known: {', '.join(sorted(FORMATS))}")
        fmt = FORMATS[format_name]
        missing = fmt.required - set(header)
        if missing:
            raise FormatError(f"{path}: missing column(s) {', '.join(sorted(missing))} for format {fmt.name}")
    else:
        fmt = detect_format(header, path)
    reader.fieldnames = header
    return fmt, RowStream(_parse_rows(reader, handle, fmt, len(header), encoding, wanted), handle)


class RowStream:
    """The parsed rows of an open file; `close()` releases the file even if no row was read."""

    def __init__(self, rows: Iterator[ParsedRow], handle: io.TextIOWrapper) -> None:
        self._rows, self._handle = rows, handle

    def __iter__(self) -> Iterator[ParsedRow]:
        return self._rows

    def close(self) -> None:
        self._rows.close()
        self._handle.close()


def _parse_rows(reader: csv.DictReader, handle, fmt: Format, width: int, encoding: str, wanted) -> Iterator[ParsedRow]:
    with handle:
        while True:
            line = reader.line_num + 1  # where the row starts; a quoted field may run over several lines
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, EOFError, OSError) as exc:
                yield ParsedRow(line=line, error=f"unreadable from here on: {exc}")
                return
            if None in row:
                yield ParsedRow(line=line, error=f"{width + len(row[None])} fields where the header has {width}")
                continue
            if None in row.values():
                fields = sum(value is not None for value in row.values())
                yield ParsedRow(line=line, error=f"{fields} fields where the header has {width}")
                continue
            bad_column = next((column for column, value in row.items() if value and _undecodable(value)), None)
            if bad_column:
                yield ParsedRow(line=line, error=f"column {bad_column}: not valid {encoding} text (try --encoding)")
                continue
            if wanted is not None and not wanted(fmt, row):
                yield ParsedRow(line=line, unwanted=True)
                continue
            try:
                record = fmt.parse(row)
            except RowError as exc:
                where = f"column {exc.column}: " if exc.column else ""
                yield ParsedRow(line=line, error=f"{where}{exc}")
                continue
            record.source_row = str(line)
            yield ParsedRow(line=line, record=record)


UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape turned undecodable bytes into


def _undecodable(value: str) -> bool:
    return not value.isascii() and UNDECODABLE.search(value) is not None
