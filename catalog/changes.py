"""What follows a change to the films, in one place: one entry point after films were edited, one after an
import.

Each does catalog's own part (the search text, the lexeme statistics) and then announces the change with a
Django signal. The recommender receives them (recommender/apps.py connects its receivers) and refreshes what
it derives from the films: TF-IDF vectors and quality priors (and, from imported ratings, each film's
co-liked films). A signal rather than a call, so that catalog's
core never imports the recommender: the dependency points one way, and whoever else derives something from
the films can listen too. Kept similar lists need no receiver: a statement trigger on the film table bumps
the catalog version they are kept for (see `catalog.models.Movie`).
"""

from __future__ import annotations

from typing import TextIO

from django.dispatch import Signal

from catalog.models import Movie
from catalog.search import refresh_lexeme_stats

# Sent with `movie_ids`, the films whose text, names or relations changed.
films_changed = Signal()
# Sent once an import has written, with `stdout` (where a receiver may show progress, or None), `films` (True
# if it wrote films: what is derived from their text is due), `ratings_changed` (how many imported ratings it
# added or changed) and `fit_ratings` (False when the caller leaves what is learnt from ratings for later).
# Each receiver returns a one-line summary of what it refreshed, or None.
catalog_imported = Signal()


def after_films_change(movie_ids: list[int]) -> None:
    """Bring everything derived from these films' text up to date at once (an edit, an API write, a merge).

    Their vectors are not recomputed here (the model takes seconds to load in a web process): they read as
    stale until `manage.py embed_movies` runs.
    """
    movie_ids = list(dict.fromkeys(movie_ids))
    if not movie_ids:
        return
    Movie.objects.filter(pk__in=movie_ids).refresh_search_text()
    films_changed.send(sender=Movie, movie_ids=movie_ids)


def after_import(
    *, stdout: TextIO | None = None, films: bool = True, ratings_changed: int = 0, fit_ratings: bool = True
) -> list[str]:
    """Refresh what is computed over the whole catalog once an import wrote: the lexeme statistics of keyword
    search (if it wrote `films`), and what the receivers of `catalog_imported` derive. Returns their summaries."""
    if films:
        refresh_lexeme_stats()
    responses = catalog_imported.send(
        sender=Movie, stdout=stdout, films=films, ratings_changed=ratings_changed, fit_ratings=fit_ratings
    )
    return [summary for _, summary in responses if summary]
