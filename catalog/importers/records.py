"""The normalised shape every dataset row is parsed into before it touches the database."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date


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
    featured: bool | None = None
    source_row: str = ""


class RowError(ValueError):
    """A row that cannot be imported; `column` names the culprit when one is to blame."""

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


def normalise_title(title: str) -> str:
    """Comparable form of a title: no accents, case, punctuation or leading article."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    text = re.sub(r"^(the|a|an) ", "", text)
    return text or title.strip().lower()
