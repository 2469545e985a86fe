"""Why two films are alike, from what they share (works on prefetched films; no queries of its own)."""

from __future__ import annotations

from typing import Any


def shared_features(seed: Any, other: Any) -> dict[str, list[str]]:
    """Genres, keywords and people (directors and cast) the two films have in common."""

    def people(movie: Any) -> list[str]:
        return [credit.person.name for credit in movie.credits.all()]

    def common(left: list[str], right: list[str]) -> list[str]:
        right_set = set(right)
        return [item for item in dict.fromkeys(left) if item in right_set]

    return {
        "genres": common([g.name for g in seed.genres.all()], [g.name for g in other.genres.all()]),
        "keywords": common([k.name for k in seed.keywords.all()], [k.name for k in other.keywords.all()]),
        "people": common(people(seed), people(other)),
    }
