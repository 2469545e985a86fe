from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from catalog.curation import merge_movies, pick_keeper
from catalog.models import Credit, Movie
from catalog.querysets import MovieQuerySet
from catalog.search import keyword_scores
from catalog.tests.helpers import ids, make_movie
from recommender.embedding import stale_films
from recommender.encoders import get_encoder
from recommender.models import FilmFeatures
from recommender.tfidf import vocabulary

pytestmark = pytest.mark.django_db


def credits_of(movie: Movie) -> list[tuple[str, str, int]]:
    return list(movie.credits.order_by("role", "order").values_list("role", "person__name", "order"))


def test_merging_moves_the_external_ids_and_deletes_the_duplicates():
    keep = make_movie(title="Lantern Bay", imdb_id="tt9000001", source_ids={"kaggle-48k": 4})
    first = make_movie(title="Lantern Bay", tmdb_id=900001, source_ids={"tmdb-movies": 17, "kaggle-48k": 99})
    second = make_movie(title="Lantern Bay", movielens_id=900002, source_ids={"movielens": 3})

    result = merge_movies(keep=keep, others=[first, second])

    keep.refresh_from_db()
    assert (keep.imdb_id, keep.tmdb_id, keep.movielens_id) == ("tt9000001", 900001, 900002)
    # The kept film's own row of a source wins over a duplicate's.
    assert keep.source_ids == {"kaggle-48k": 4, "tmdb-movies": 17, "movielens": 3}
    assert not Movie.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert result.deleted == 2
    assert result.ids_moved == ["tmdb_id", "movielens_id"]


def test_an_id_the_kept_film_already_has_is_kept_and_the_duplicates_is_reported():
    keep = make_movie(title="Copper Sky", imdb_id="tt9000010")
    other = make_movie(title="Copper Sky", imdb_id="tt9000011", tmdb_id=900010)

    result = merge_movies(keep=keep, others=[other])

    keep.refresh_from_db()
    assert (keep.imdb_id, keep.tmdb_id) == ("tt9000010", 900010)
    assert result.ids_dropped == ["imdb_id tt9000011 of “Copper Sky (2000)”"]
    # The dropped id is free again: a later import may give it to a new film.
    make_movie(title="Another Film", imdb_id="tt9000011")


def test_blank_facts_are_filled_from_the_duplicates_and_the_kept_films_own_win():
    keep = make_movie(title="Night Ferry", overview="", runtime=None, vote_average=7.0, countries=[])
    other = make_movie(
        title="Night Ferry (1999)",
        overview="A ferry crosses at night.",
        runtime=95,
        vote_average=5.5,
        countries=["FR"],
        poster_url="https://example.com/ferry.jpg",
    )

    result = merge_movies(keep=keep, others=[other])

    keep.refresh_from_db()
    assert keep.title == "Night Ferry"
    assert (keep.overview, keep.runtime, keep.countries) == ("A ferry crosses at night.", 95, ["FR"])
    assert keep.poster_url == "https://example.com/ferry.jpg"
    assert keep.vote_average == 7.0
    assert set(result.fields_filled) == {"overview", "runtime", "countries", "poster_url"}


def test_credits_move_once_per_person_and_role_billed_after_the_kept_films_own():
    keep = make_movie(title="Glass Harbour", directors=("Ana Ruiz",), cast=("Tom Vale", "Ida Moss"))
    first = make_movie(title="Glass Harbour", directors=("Ana Ruiz",), cast=("Ida Moss", "Kurt Lind"))
    second = make_movie(title="Glass Harbour", directors=("Ben Ruiz",), cast=("Kurt Lind", "Oona Park"))

    result = merge_movies(keep=keep, others=[first, second])

    assert credits_of(keep) == [
        ("cast", "Tom Vale", 0),
        ("cast", "Ida Moss", 1),
        ("cast", "Kurt Lind", 2),
        ("cast", "Oona Park", 3),
        ("director", "Ana Ruiz", 0),
        ("director", "Ben Ruiz", 1),
    ]
    assert result.credits_moved == 3
    assert Credit.objects.filter(movie_id__in=[first.pk, second.pk]).count() == 0


def test_genres_and_keywords_are_joined():
    keep = make_movie(title="Iron Orchard", genres=("Drama",), keywords=("orchard",))
    other = make_movie(title="Iron Orchard", genres=("Drama", "War"), keywords=("orchard", "frost"))

    merge_movies(keep=keep, others=[other])

    assert sorted(keep.genres.values_list("name", flat=True)) == ["Drama", "War"]
    assert sorted(keep.keywords.values_list("name", flat=True)) == ["frost", "orchard"]


def test_the_kept_film_is_found_by_the_names_it_gained():
    keep = make_movie(title="Salt Road", cast=("Mira Holt",))
    other = make_movie(title="Salt Road", cast=("Quillon Ashgrove",), keywords=("caravan",))

    result = merge_movies(keep=keep, others=[other])

    assert "Quillon Ashgrove" in result.kept.people_text
    assert ids(keyword_scores(Movie.objects.all(), "quillon ashgrove", limit=5)) == [keep.pk]


def test_the_kept_film_is_placed_again_among_tfidf_terms():
    keep = make_movie(title="Salt Road", cast=("Mira Holt",))
    other = make_movie(title="Salt Road", keywords=("mafia",))

    merge_movies(keep=keep, others=[other])

    terms = vocabulary()
    stored = FilmFeatures.objects.get(movie=keep).tfidf
    assert "mafia" in [terms[i] for i in stored.indices()]


def test_the_vector_is_kept_and_reads_stale_when_the_text_changed(settings: Settings):
    settings.EMBEDDING_BACKEND = "fake"
    keep = make_movie(title="Wire Moon", cast=("Rhea Stone",), embed_with="fake")
    other = make_movie(title="Wire Moon", cast=("Leo Marsh",), embed_with="fake")
    vector = list(keep.embedding)

    merge_movies(keep=keep, others=[other])

    film = Movie.objects.with_details().get(pk=keep.pk)
    assert list(film.embedding) == pytest.approx(vector)
    assert [stale.movie for stale in stale_films([film], get_encoder("fake"))] == [film]


def test_merging_an_identical_duplicate_leaves_the_vector_fresh(settings: Settings):
    settings.EMBEDDING_BACKEND = "fake"
    keep = make_movie(title="Paper Tides", cast=("Rhea Stone",), embed_with="fake")
    other = make_movie(title="Paper Tides", cast=("Rhea Stone",))

    merge_movies(keep=keep, others=[other])

    assert stale_films([Movie.objects.with_details().get(pk=keep.pk)], get_encoder("fake")) == []


def test_a_failure_part_way_changes_nothing(monkeypatch: pytest.MonkeyPatch):
    keep = make_movie(title="Ash Lane")
    other = make_movie(title="Ash Lane", imdb_id="tt9000020", cast=("Nell Quay",))

    def fail(self) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(MovieQuerySet, "refresh_search_text", fail)
    with pytest.raises(RuntimeError):
        merge_movies(keep=keep, others=[other])

    other.refresh_from_db()
    assert other.imdb_id == "tt9000020"
    assert credits_of(other) == [("cast", "Nell Quay", 0)]
    assert Movie.objects.get(pk=keep.pk).imdb_id is None


def test_a_film_cannot_be_merged_into_itself_alone():
    film = make_movie(title="Lone Pine")
    with pytest.raises(ValueError, match="at least one film"):
        merge_movies(keep=film, others=[film])
    assert Movie.objects.filter(pk=film.pk).exists()


def test_the_default_keeper_has_the_most_votes_then_the_most_facts():
    sparse = make_movie(title="Echo Falls", vote_count=10)
    voted = make_movie(title="Echo Falls", vote_count=500)
    rich = make_movie(title="Echo Falls", vote_count=10, overview="A town by a waterfall.", imdb_id="tt9000030")

    assert pick_keeper([sparse, voted, rich]) == voted
    assert pick_keeper([sparse, rich]) == rich
    older, newer = make_movie(title="Twin"), make_movie(title="Twin")
    assert pick_keeper([newer, older]) == older
