"""The quality prior: how well known and well rated each film is, as a number from 0 to 1."""

from __future__ import annotations

from django.db import connection, transaction


def refresh_quality() -> None:
    """Each film's quality prior (0..1): how well known (votes, popularity) and how well rated it is, as its
    percentile among the films that have those figures.

    The rating is IMDb's weighted rating (a Bayesian average pulled towards the catalog's mean by the median
    vote count), so ten votes of 10/10 do not outrank a classic; a rating without a vote count counts as one
    with the median count, and a 0 with no votes is no rating at all. A film without any figure gets none
    (the ranking then takes it as middling).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH films AS (
                SELECT id, vote_count, vote_average, popularity,
                       vote_average IS NOT NULL AND (vote_count IS NULL OR vote_count > 0) AS has_rating
                FROM catalog_movie
            ), stats AS (
                SELECT avg(vote_average) FILTER (WHERE has_rating) AS mean_rating,
                       COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY vote_count)
                                FILTER (WHERE vote_count > 0), 1) AS m
                FROM films
            ), ranks AS (
                SELECT id,
                    CASE WHEN vote_count > 0 THEN
                        percent_rank() OVER (PARTITION BY vote_count > 0 ORDER BY vote_count) END AS votes,
                    CASE WHEN popularity IS NOT NULL THEN
                        percent_rank() OVER (PARTITION BY popularity IS NOT NULL ORDER BY popularity) END AS popular,
                    CASE WHEN has_rating THEN
                        percent_rank() OVER (
                            PARTITION BY has_rating
                            ORDER BY (COALESCE(vote_count, m) * vote_average + m * mean_rating)
                                / (COALESCE(vote_count, m) + m)
                        ) END AS rated
                FROM films, stats
            ), known AS (
                SELECT id, rated, (COALESCE(votes, 0) + COALESCE(popular, 0))
                    / NULLIF(num_nonnulls(votes, popular), 0) AS known
                FROM ranks
            ), quality AS (
                SELECT id, (COALESCE(known, 0) + COALESCE(rated, 0)) / NULLIF(num_nonnulls(known, rated), 0) AS value
                FROM known
            )
            INSERT INTO recommender_filmfeatures (movie_id, quality) SELECT id, value FROM quality
            ON CONFLICT (movie_id) DO UPDATE SET quality = EXCLUDED.quality
            WHERE recommender_filmfeatures.quality IS DISTINCT FROM EXCLUDED.quality
            """
        )
