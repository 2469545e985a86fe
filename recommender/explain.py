"""Why two films are alike, from what they share (works on prefetched films; no queries of its own)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Features = dict[str, list[str]]


def features(movie: Any, *, keywords: Iterable[str] | None = None) -> Features:
    """A film's genres, keywords and people (directors and cast), from its prefetched relations (or the
    keyword names given, when only some matter)."""
    return {
        "genres": [genre.name for genre in movie.genres.all()],
        "keywords": list(keywords) if keywords is not None else [keyword.name for keyword in movie.keywords.all()],
        "people": list(dict.fromkeys(credit.person.name for credit in movie.credits.all())),
    }


def shared(seed: Features, other: Features) -> Features:
    """What two films' features have in common, in the seed's order."""
    theirs = {kind: set(names) for kind, names in other.items()}
    return {kind: [name for name in names if name in theirs[kind]] for kind, names in seed.items()}
