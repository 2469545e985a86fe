"""Why two films are alike, from what they share (works on prefetched films; no queries of its own)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Features = dict[str, list[str]]


def features(movie: Any, *, keywords: Iterable[str] | None = None) -> Features:
    """A film's genres, keywords and people (directors and cast), from its names annotated by
    `MovieQuerySet.with_names()` or else its prefetched relations (or the keyword names given, when only some
    matter). Both give the same lists in the same order: names by name, people by role and billing."""
    if hasattr(movie, "people_names"):
        genres, people = list(movie.genre_names), movie.people_names
        keywords = movie.keyword_names if keywords is None else keywords
    else:
        genres = [genre.name for genre in movie.genres.all()]
        people = [credit.person.name for credit in movie.credits.all()]
        keywords = [keyword.name for keyword in movie.keywords.all()] if keywords is None else keywords
    return {"genres": genres, "keywords": list(keywords), "people": list(dict.fromkeys(people))}


def shared(seed: Features, other: Features) -> Features:
    """What two films' features have in common, in the seed's order."""
    theirs = {kind: set(names) for kind, names in other.items()}
    return {kind: [name for name in names if name in theirs[kind]] for kind, names in seed.items()}
