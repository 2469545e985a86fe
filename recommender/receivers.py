"""The recommender's part when films or imported ratings change: receivers of catalog.changes' signals, connected in
RecommenderConfig.ready(). The heavy modules (scikit-learn) are imported when a signal arrives, not when the
app loads."""

from __future__ import annotations

from typing import TextIO


def refresh_film_features(sender, *, movie_ids: list[int], **kwargs) -> None:
    """Place films whose text changed again among the TF-IDF terms (with the stored vocabulary)."""
    from recommender.tfidf import refresh_tfidf

    refresh_tfidf(movie_ids)


def refresh_catalog_features(sender, *, stdout: TextIO | None = None, films: bool = True, **kwargs) -> str | None:
    """After an import that wrote films: every film's quality prior, and the TF-IDF vocabulary fitted again on
    every film."""
    if not films:
        return None
    from recommender.quality import refresh_quality
    from recommender.tfidf import fit_tfidf

    refresh_quality()
    fitted = fit_tfidf(stdout=stdout)
    return f"TF-IDF: {fitted.films} films over {fitted.terms} terms in {fitted.elapsed:.1f}s."


def refresh_co_liked(
    sender, *, stdout: TextIO | None = None, ratings_changed: int = 0, fit_ratings: bool = True, **kwargs
) -> str | None:
    """After an import that added or changed ratings: every film's co-liked films, refitted (recommender.cf).
    Films alone change nothing here (a new film has no ratings yet); `fit_ratings=False` (import_movies
    --no-fit) leaves the refit for `manage.py fit_cf`."""
    if not ratings_changed or not fit_ratings:
        return None
    from recommender.cf import refresh

    return f"Collaborative filtering: {refresh(stdout=stdout)}."
