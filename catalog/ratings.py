"""A user's ratings and watchlist: the writes every edge (site, API, import, log-in) goes through."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction

from catalog.models import STAR_STEPS, Movie, Rating, WatchlistEntry

# A session favourite carried into an account becomes a rating of this many stars: a clear "liked" (the
# recommender counts 3.5 and up as liked) that stays below the user's own 4½ and 5 for their best films.
FAVOURITE_STARS = Decimal("4")


def parse_stars(value: object) -> Decimal:
    """Stars from a form, JSON or CSV value: ½ to 5 in half steps; anything else raises ValueError."""
    try:
        stars = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a number of stars") from None
    if stars not in STAR_STEPS:
        raise ValueError(f"{value!r} is not ½ to 5 stars in half steps")
    return stars.quantize(Decimal("0.1"))


def set_rating(*, user, movie: Movie, stars: Decimal, source: str = Rating.Source.SITE) -> Rating:
    """Rate the film (or change the rating); the film's watchlist entry goes, since it has been seen."""
    with transaction.atomic():
        rating, _ = Rating.objects.update_or_create(user=user, movie=movie, defaults={"stars": stars, "source": source})
        WatchlistEntry.objects.filter(user=user, movie=movie).delete()
    return rating


def remove_rating(*, user, movie_id: int) -> bool:
    """Remove the user's rating of the film; whether there was one."""
    deleted, _ = Rating.objects.filter(user=user, movie_id=movie_id).delete()
    return bool(deleted)


def carry_favourites(*, user, movie_ids: list[int]) -> int:
    """Rate a visitor's session favourites FAVOURITE_STARS for the account they just signed in to; a film the
    user has already rated keeps its rating. Returns how many ratings were added."""
    films = list(Movie.objects.visible().filter(pk__in=movie_ids).values_list("pk", flat=True))
    rated = set(Rating.objects.filter(user=user, movie_id__in=films).values_list("movie_id", flat=True))
    new = [
        Rating(user=user, movie_id=pk, stars=FAVOURITE_STARS, source=Rating.Source.FAVOURITE)
        for pk in films
        if pk not in rated
    ]
    Rating.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def toggle_watchlist(*, user, movie: Movie) -> bool:
    """Put the film on the user's watchlist, or take it off if it is there; whether it is on it now."""
    deleted, _ = WatchlistEntry.objects.filter(user=user, movie=movie).delete()
    if deleted:
        return False
    WatchlistEntry.objects.get_or_create(user=user, movie=movie)
    return True
