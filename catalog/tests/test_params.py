"""One parameter vocabulary (catalog/params.py): the site and the API take the same modes, orderings, methods,
filters and bounds; a pasted blurb of 1,000 characters is a query like any other."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog import params, search
from catalog.api.serializers import SearchParamsSerializer, SimilarParamsSerializer
from catalog.forms import SearchForm, SimilarForm
from catalog.models import Movie
from catalog.search import MAX_SCORED_WORDS, weighted_words

pytestmark = pytest.mark.django_db

# A blurb in someone else's words, as people paste them: 1,000 characters exactly.
JAWS_BLURB = (
    "When a young woman is killed by a great white shark off the coast of a small island resort during the first "
    "weeks of summer, the new police chief wants to close the beaches, but the mayor and the town's business "
    "owners refuse, fearing the loss of the tourist money the holiday brings. After more attacks on swimmers and "
    "a boy on a raft, the chief hires a grizzled fisherman who hunts sharks for a living and brings along a young "
    "oceanographer from the institute. The three men set out to sea on an old boat to find and kill the beast "
    "before it strikes again, and soon learn that the animal is far larger and more cunning than anyone believed. "
    "Days at sea, barrels on harpoons, a shared song at night, scars compared over drinks, and a wrecked hull "
    "follow, until only two of them swim home. A thriller about fear of the water, a town's greed and three "
    "stubborn men, set on a summer island where the beaches are the whole living of everyone who lives there too"
)
JAWS_BLURB = (JAWS_BLURB + " " * params.MAX_QUERY_LENGTH)[: params.MAX_QUERY_LENGTH]


@pytest.fixture
def api() -> APIClient:
    cache.delete(AnonRateThrottle.cache_format % {"scope": "anon", "ident": "127.0.0.1"})
    return APIClient()


def test_the_site_and_the_api_offer_the_same_choices():
    form, similar_form = SearchForm(), SimilarForm()
    search, similar = SearchParamsSerializer(), SimilarParamsSerializer()
    assert [key for key, _ in form.fields["mode"].choices] == list(search.fields["mode"].choices)
    assert [key for key, _ in form.fields["ordering"].choices] == list(search.fields["ordering"].choices)
    assert [key for key, _ in similar_form.fields["method"].choices] == list(similar.fields["method"].choices)
    assert set(params.FILTERS) <= set(form.fields) and set(params.FILTERS) <= set(search.fields)
    assert form.fields["q"].max_length == search.fields["q"].max_length == params.MAX_QUERY_LENGTH == 1000


def test_a_thousand_character_blurb_finds_its_film_through_the_api(api):
    assert len(JAWS_BLURB) == 1000
    response = api.get("/api/search/", {"q": JAWS_BLURB})
    assert response.status_code == 200
    titles = [film["title"] for film in response.json()["results"]]
    assert titles and "Jaws" in titles[:3]


def test_a_query_past_a_thousand_characters_is_a_400_with_a_message(api):
    response = api.get("/api/search/", {"q": JAWS_BLURB + "x"})
    assert response.status_code == 400
    assert "1000 characters" in response.json()["q"][0]


def test_a_thousand_character_blurb_finds_its_film_on_the_site(client):
    response = client.get("/", {"q": JAWS_BLURB})
    assert response.status_code == 200
    titles = [movie.title for movie in response.context["page"].results]
    assert titles and "Jaws" in titles[:3]
    assert 'maxlength="1000"' in response.text


def test_a_query_past_a_thousand_characters_is_a_400_on_the_site(client):
    response = client.get("/", {"q": JAWS_BLURB + "x"})
    assert response.status_code == 400
    assert "Search films:" in response.text and "1000 characters" in response.text


def test_keyword_scoring_reads_only_the_rarest_words_of_a_long_query(monkeypatch):
    words, weights = weighted_words(JAWS_BLURB)
    assert len(words) == MAX_SCORED_WORDS
    monkeypatch.setattr(search, "MAX_SCORED_WORDS", 10_000)
    every_word, every_weight = weighted_words(JAWS_BLURB)
    assert len(every_word) > MAX_SCORED_WORDS
    dropped = [weight for word, weight in zip(every_word, every_weight, strict=True) if word not in words]
    assert max(dropped) <= min(weights)
    assert [word for word in every_word if word in words] == words  # the query's order is kept


def test_the_site_takes_the_api_filters(client):
    response = client.get("/", {"director": "coppola", "language": "en"})
    films = response.context["page"].results
    assert response.status_code == 200 and films
    assert all(any("Coppola" in person.name for person in movie.directors) for movie in films)
    assert '<input type="hidden" name="director" value="coppola">' in response.text
    acted = client.get("/", {"actor": "pacino"}).context["page"].results
    assert acted and all(any("Pacino" in credit.person.name for credit in movie.cast) for movie in acted)


def test_the_api_takes_the_site_filters(api):
    seventies = api.get("/api/movies/", {"decade": 1970, "limit": 100}).json()["results"]
    assert seventies and all(1970 <= film["year"] <= 1979 for film in seventies)
    searched = api.get("/api/search/", {"q": "", "decade": 1970, "year_min": 1975, "limit": 100}).json()["results"]
    assert searched and all(1975 <= film["year"] <= 1979 for film in searched)
    coppola = api.get("/api/search/", {"q": "", "person": "coppola"}).json()["results"]
    expected = Movie.objects.visible().filter(credits__person__name__icontains="coppola").distinct().count()
    assert len(coppola) == min(expected, params.SEARCH_LIMIT) and expected
    assert api.get("/api/movies/", {"decade": 1975}).status_code == 400
    assert api.get("/api/search/", {"decade": 1975}).status_code == 400


PARAMS = (
    "q=And+Then+Came+nove&mode=hybrid",
    "q=space&genre=Drama&genre=crime&year_min=1990&decade=1980s&limit=5&offset=20&ordering=-year",
    "q=x&genre=&limit=&alpha=0.3&director=cop&actor=&person=y&language=en",
    "mode=loud&limit=0&offset=-1&alpha=nan&year_min=1200&genre=" + "&genre=".join(["Drama"] * 30),
    "q=" + "x" * 1200 + "&decade=2090s&ordering=best",
    "method=svm&C=0.5&prior=0.2&limit=7",
    "method=none&C=inf&prior=2&limit=-3",
    "q=tom&role=director",
    "q=tom&role=grip&limit=x",
)


class DeepCopying:
    """A parameters serializer as DRF makes its fields: deep copies of the declared ones."""

    def get_fields(self):
        import copy

        return copy.deepcopy(self._declared_fields)


@pytest.mark.parametrize("query", PARAMS)
def test_parameters_validated_with_copied_fields_are_the_ones_deep_copied_fields_validate(query):
    from django.http import QueryDict

    from catalog.api.serializers import AutocompleteParamsSerializer, PeopleParamsSerializer

    for ours in (SearchParamsSerializer, SimilarParamsSerializer, AutocompleteParamsSerializer, PeopleParamsSerializer):
        theirs = type("Deep" + ours.__name__, (DeepCopying, ours), {})
        first, second, deep = ours(data=QueryDict(query)), ours(data=QueryDict("")), theirs(data=QueryDict(query))
        assert first.is_valid() == deep.is_valid() and second.is_valid() == theirs(data=QueryDict("")).is_valid()
        assert first.errors == deep.errors
        if not first.errors:
            assert first.validated_data == deep.validated_data
        # Each instance binds fields of its own; the declared ones stay unbound for the next.
        assert {field.parent for field in first.fields.values()} == {first}
        assert {field.parent for field in second.fields.values()} == {second}
        assert {field.parent for field in ours._declared_fields.values()} == {None}
