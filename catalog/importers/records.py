"""The normalised shape every dataset row is parsed into before it touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from catalog.models import OVERVIEW_MAX_LENGTH, PLOT_MAX_LENGTH


@dataclass
class MovieRecord:
    title: str
    year: int | None = None
    release_date: date | None = None
    original_title: str = ""
    original_language: str = ""
    countries: list[str] = field(default_factory=list)
    runtime: int | None = None
    overview: str = ""
    plot: str = ""
    tagline: str = ""
    poster_url: str = ""
    vote_average: float | None = None
    vote_count: int | None = None
    popularity: float | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    movielens_id: int | None = None
    genres: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    characters: list[str] = field(default_factory=list)  # parallel to `cast` where the source has them
    featured: bool | None = None
    source_row: str = ""

    def __post_init__(self) -> None:
        # Postgres refuses a tsvector over 1 MB, so a runaway text would fail its whole batch; the caps are
        # far above any real synopsis or plot (Wikipedia's longest plots are ~40k characters).
        self.overview = truncate_words(self.overview, OVERVIEW_MAX_LENGTH)
        self.plot = truncate_words(self.plot, PLOT_MAX_LENGTH)


def truncate_words(text: str, limit: int) -> str:
    """`text` cut at the last whole word within `limit` characters."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(None, 1)[0]


class RowError(ValueError):
    """A row that cannot be imported; `column` names the culprit when one is to blame."""

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


GENRE_ALIASES = {
    "sci-fi": "Science Fiction",
    "scifi": "Science Fiction",
    "science-fiction": "Science Fiction",
    "children": "Family",
    "children's": "Family",
    "film-noir": "Film Noir",
    "noir": "Film Noir",
    "romance film": "Romance",
    "musical": "Musical",
    "tv movie": "TV Movie",
}
NOT_A_GENRE = {"", "unknown", "(no genres listed)", "n/a", "none", "-"}


def normalise_genre(name: str) -> str | None:
    """One spelling per genre across datasets ("Sci-Fi" and "science fiction" are "Science Fiction")."""
    key = " ".join(name.split()).lower()
    if key in NOT_A_GENRE:
        return None
    return GENRE_ALIASES.get(key) or " ".join(word[:1].upper() + word[1:] for word in key.split())
