"""The recommender's part when films change: receivers of catalog.changes' signals, connected in
RecommenderConfig.ready(). The heavy modules (scikit-learn) are imported when a signal arrives, not when the
app loads."""

from __future__ import annotations

from typing import TextIO


def refresh_film_features(sender, *, movie_ids: list[int], **kwargs) -> None:
    """Place films whose text changed again among the TF-IDF terms (with the stored vocabulary)."""
    from recommender.tfidf import refresh_tfidf

    refresh_tfidf(movie_ids)


def refresh_catalog_features(sender, *, stdout: TextIO | None = None, **kwargs) -> str:
    """After an import: every film's quality prior, and the TF-IDF vocabulary fitted again on every film."""
    from recommender.quality import refresh_quality
    from recommender.tfidf import fit_tfidf

    refresh_quality()
    fitted = fit_tfidf(stdout=stdout)
    return f"TF-IDF: {fitted.films} films over {fitted.terms} terms in {fitted.elapsed:.1f}s."
