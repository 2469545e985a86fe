"""Similar-films answers computed in few statements (issue 16) are the answers computed from each film's own
relations, byte for byte, on the demo catalog with ratings, for every method."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import ModelSerializer
from rest_framework.test import APIClient

from catalog.api import answers
from catalog.api.serializers import SimilarMovieSerializer
from catalog.models import ImportedRating, Movie
from recommender import cf
from recommender.explain import features, shared
from recommender.models import SimilarList

pytestmark = pytest.mark.django_db

JSON = "application/json"
SEEDS = ("The Godfather", "Heat", "Alien", "Toy Story")
CRIME = ("Heat", "The Godfather", "Goodfellas", "The Departed")
FAMILY = ("Toy Story", "Finding Nemo")


class GenericSimilarMovieSerializer(SimilarMovieSerializer):
    """SimilarMovieSerializer as DRF's generic path writes it."""

    to_representation = ModelSerializer.to_representation


@pytest.fixture(autouse=True)
def web_server_connections(settings):
    """Count statements as a web server runs them (no SET LOCAL statement_timeout around each one)."""
    settings.CONNECTION_STATEMENT_TIMEOUT_MS = settings.REQUEST_STATEMENT_TIMEOUT_MS


@pytest.fixture
def ratings() -> cf.Fit:
    """Crime fans and family viewers, enough of them for co-liked lists (the `liked_by` reasons)."""
    movies = {movie.title: movie for movie in Movie.objects.filter(title__in=[*CRIME, *FAMILY])}
    rows = [
        ImportedRating(source="test", user=user, movie=movies[title], rating=5)
        for user in range(1, 13)
        for title in CRIME
    ]
    rows += [
        ImportedRating(source="test", user=user, movie=movies[title], rating=4.5)
        for user in range(20, 30)
        for title in FAMILY
    ]
    ImportedRating.objects.bulk_create(rows)
    return cf.refresh()


def first_pass(seed: Movie, method: str) -> tuple[bytes, list[str]]:
    """The API's answer when neither it nor the film's list is kept yet, and the statements it ran."""
    SimilarList.objects.filter(movie=seed).delete()
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().get(f"/api/movies/{seed.pk}/similar/", {"method": method}, HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    return response.content, [query["sql"] for query in queries.captured_queries]


def from_relations(seed_pk: int, answer: list[dict]) -> bytes:
    """The same films, scores and extra reasons, with every film loaded with its relations (`with_details`)
    and the reasons computed from all of them, serialized by DRF's generic path, as before issue 16."""
    seed = Movie.objects.with_details().get(pk=seed_pk)
    by_id = Movie.objects.with_details().in_bulk([item["id"] for item in answer])
    mine = features(seed)
    films = []
    for item in answer:
        film = by_id[item["id"]]
        why = shared(mine, features(film))
        if "liked_by" in item["why"]:
            why = {"liked_by": item["why"]["liked_by"], **why}
        if "terms" in item["why"]:
            why["terms"] = item["why"]["terms"]
        film.score, film.why = item["score"], why
        films.append(film)
    return JSONRenderer().render({"results": GenericSimilarMovieSerializer(films, many=True).data})


@pytest.mark.parametrize("method", ["blend", "cf", "knn", "svm", "tfidf"])
def test_a_first_pass_answer_is_the_answer_from_each_films_relations_byte_for_byte(ratings, method, monkeypatch):
    monkeypatch.setattr(answers, "cacheable", lambda request: False)
    for title in SEEDS:
        seed = Movie.objects.get(title=title)
        body, _ = first_pass(seed, method)
        answer = json.loads(body)["results"]
        assert answer  # cf lists only the co-liked films of a film enough people like
        assert body == from_relations(seed.pk, answer), f"{title} by {method}"
        if method in ("cf", "blend") and title in CRIME:
            assert any("liked_by" in item["why"] for item in answer)


def test_a_first_pass_knn_answer_costs_a_pinned_number_of_statements(monkeypatch):
    monkeypatch.setattr(answers, "cacheable", lambda request: False)
    _, statements = first_pass(Movie.objects.get(title="Heat"), "knn")
    # A test runs in a transaction, so each atomic block adds a savepoint a web request's autocommit has not.
    statements = [sql for sql in statements if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]

    # the throttle count, the film with its names and genre ids, the catalog version with the kept list, the
    # index's settings, the pool with the candidates' genres, the keeping, the 40 films with their shared
    # keywords, genres and credits
    assert len(statements) == 7, "\n".join(sql[:120] for sql in statements)


def test_a_film_without_keywords_costs_no_query_per_similar_film(monkeypatch):
    monkeypatch.setattr(answers, "cacheable", lambda request: False)
    heat = Movie.objects.get(title="Heat")
    heat.keywords.clear()
    _, statements = first_pass(heat, "knn")
    statements = [sql for sql in statements if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]

    assert len(statements) == 7, "\n".join(sql[:120] for sql in statements)
