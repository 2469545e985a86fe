"""The quality prior: how well known and well rated each film is."""

from __future__ import annotations

import pytest

from catalog.models import Movie
from catalog.tests.helpers import make_movie
from recommender.quality import refresh_quality

pytestmark = pytest.mark.django_db


def test_refresh_quality_ranks_well_known_well_rated_films_higher():
    cult = make_movie(title="Cult", vote_count=40, vote_average=9.5, popularity=1.0)
    classic = make_movie(title="Classic", vote_count=50000, vote_average=8.5, popularity=80.0)
    flop = make_movie(title="Flop", vote_count=100, vote_average=3.0, popularity=0.5)
    unknown = make_movie(title="Unknown")
    rated_only = make_movie(title="Rated only", vote_average=9.9)
    no_votes = make_movie(title="No votes", vote_count=0, vote_average=0.0)
    refresh_quality()
    films = Movie.objects.filter(pk__in=[cult.pk, classic.pk, flop.pk, unknown.pk, rated_only.pk, no_votes.pk])
    quality = dict(films.values_list("title", "features__quality"))
    assert quality["Classic"] > quality["Cult"] > quality["Flop"]
    assert quality["Flop"] >= 0
    assert quality["Classic"] <= 1
    assert quality["Unknown"] is None
    assert quality["No votes"] is None  # TMDB's 0 out of 0 votes is no rating
    assert quality["Rated only"] > quality["Flop"]  # a rating without a count still tells something
