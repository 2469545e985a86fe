"""Curation writes made from the admin: folding duplicate films into one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max

from catalog.changes import after_films_change
from catalog.models import EXTERNAL_IDS, Credit, Genre, Keyword, Movie

# Facts the kept film takes from a duplicate when it has none of its own. Title, flags and ids are not here:
# the curator chose the kept film's title and visibility, and ids have rules of their own.
FILLABLE_FIELDS = (
    "original_title",
    "year",
    "release_date",
    "overview",
    "plot",
    "tagline",
    "runtime",
    "original_language",
    "countries",
    "poster_url",
    "vote_average",
    "vote_count",
    "popularity",
    "source",
)


@dataclass
class MergeResult:
    kept: Movie
    deleted: int = 0
    ids_moved: list[str] = field(default_factory=list)
    ids_dropped: list[str] = field(default_factory=list)
    fields_filled: list[str] = field(default_factory=list)
    credits_moved: int = 0


def is_blank(value: Any) -> bool:
    """Whether a film's field holds nothing (0 and False are values)."""
    return value is None or value == "" or value == [] or value == {}


def pick_keeper(movies: list[Movie]) -> Movie:
    """The film a merge keeps unless the curator says otherwise: most votes, then most facts, then the oldest."""

    def weight(movie: Movie) -> tuple[int, int, int]:
        facts = sum(not is_blank(getattr(movie, name)) for name in (*EXTERNAL_IDS, *FILLABLE_FIELDS))
        return (movie.vote_count or 0, facts, -movie.pk)

    return max(movies, key=weight)


def merge_movies(*, keep: Movie, others: list[Movie]) -> MergeResult:
    """Fold duplicate films into `keep` and delete them, in one transaction.

    The kept film takes the others' external ids and the facts it lacks, their source rows, credits (one per
    person and role), genres and keywords. Its own values always win. What derives from its text is
    refreshed (`after_films_change`); its embedding is left as it is, so it reads as stale when the merge
    changed its text (`embed_movies` picks it up).
    """
    other_ids = list(dict.fromkeys(movie.pk for movie in others if movie.pk != keep.pk))
    if not other_ids:
        raise ValueError("A merge needs at least one film besides the one kept.")
    with transaction.atomic():
        # Re-read under a lock, so an edit made since the curator's page was drawn is neither lost nor undone.
        films = (
            Movie.objects.select_for_update().without_vectors().defer("search_vector").in_bulk([keep.pk, *other_ids])
        )
        missing = {keep.pk, *other_ids} - set(films)
        if missing:
            raise Movie.DoesNotExist(f"Films {sorted(missing)} no longer exist.")
        kept = films[keep.pk]
        duplicates = [films[pk] for pk in other_ids]
        result = MergeResult(kept=kept, deleted=len(duplicates))

        # The ids are unique: the duplicates give theirs up before the kept film can hold them.
        Movie.objects.filter(pk__in=other_ids).update(**dict.fromkeys(EXTERNAL_IDS))
        for duplicate in duplicates:
            for name in EXTERNAL_IDS:
                value = getattr(duplicate, name)
                if value is None or getattr(kept, name) == value:
                    continue
                if getattr(kept, name) is None:
                    setattr(kept, name, value)
                    result.ids_moved.append(name)
                else:
                    result.ids_dropped.append(f"{name} {value} of “{duplicate}”")
            for name in FILLABLE_FIELDS:
                if is_blank(getattr(kept, name)) and not is_blank(getattr(duplicate, name)):
                    setattr(kept, name, getattr(duplicate, name))
                    result.fields_filled.append(name)
            kept.source_ids = {**duplicate.source_ids, **kept.source_ids}
        # The vector is deferred, so save() writes every other column and leaves the vector alone.
        kept.save()

        result.credits_moved = _move_credits(kept, other_ids)
        kept.genres.add(*Genre.objects.filter(movies__in=other_ids).distinct())
        kept.keywords.add(*Keyword.objects.filter(movies__in=other_ids).distinct())
        Movie.objects.filter(pk__in=other_ids).delete()
        after_films_change([kept.pk])
    kept.refresh_from_db(fields=["people_text", "tags_text"])
    return result


def _move_credits(kept: Movie, other_ids: list[int]) -> int:
    """Give the kept film the duplicates' credits it lacks, billed after its own; return how many moved."""
    taken = set(Credit.objects.filter(movie=kept).values_list("person_id", "role"))
    next_order = {
        role: last + 1
        for role, last in Credit.objects.filter(movie=kept).order_by().values_list("role").annotate(last=Max("order"))
    }
    moved = []
    # The first duplicate's billing comes first, as the curator listed them.
    rank = {pk: index for index, pk in enumerate(other_ids)}
    credits = sorted(Credit.objects.filter(movie_id__in=other_ids), key=lambda c: (rank[c.movie_id], c.role, c.order))
    for credit in credits:
        if (credit.person_id, credit.role) in taken:
            continue  # the person already has this role on the kept film; the duplicate's copy goes with it
        taken.add((credit.person_id, credit.role))
        credit.movie = kept
        credit.order = next_order.get(credit.role, 0)
        next_order[credit.role] = credit.order + 1
        moved.append(credit)
    Credit.objects.bulk_update(moved, ["movie", "order"])
    return len(moved)
