from __future__ import annotations

import datetime
import json
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from catalog import admin as catalog_admin
from catalog.models import Credit, Genre, Movie, Person
from catalog.search import keyword_scores
from catalog.tests.helpers import ids, make_movie
from recommender.embedding import stale_films
from recommender.encoders import get_encoder

pytestmark = pytest.mark.django_db


CHANGELIST = "/admin/catalog/movie/"


@pytest.fixture
def staff_client(client: Client) -> Client:
    user = get_user_model().objects.create_superuser("curator", "curator@example.com", "a-long-password-1")
    client.force_login(user)
    return client


def change_form_data(movie: Movie, **overrides) -> dict:
    """What the change form posts back for `movie` unchanged, then `overrides`."""
    credits = list(movie.credits.order_by("role", "order")) if movie.pk else []
    genres, keywords = (
        ([g.pk for g in movie.genres.all()], [k.pk for k in movie.keywords.all()]) if movie.pk else ([], [])
    )
    data = {
        "title": movie.title, "original_title": movie.original_title, "year": movie.year or "",
        "release_date": movie.release_date or "", "hidden": "", "featured": "on" if movie.featured else "",
        "overview": movie.overview, "tagline": movie.tagline, "plot": movie.plot,
        "genres": genres, "keywords": keywords,
        "runtime": movie.runtime or "", "original_language": movie.original_language,
        "countries": ",".join(movie.countries), "poster_url": movie.poster_url,
        "vote_average": movie.vote_average or "", "vote_count": movie.vote_count or "", "popularity": "",
        "imdb_id": movie.imdb_id or "", "tmdb_id": movie.tmdb_id or "", "movielens_id": "",
        "source": movie.source, "source_ids": json.dumps(movie.source_ids),
        "credits-TOTAL_FORMS": len(credits), "credits-INITIAL_FORMS": len(credits),
        "credits-MIN_NUM_FORMS": 0, "credits-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for index, credit in enumerate(credits):
        prefix = f"credits-{index}-"
        data |= {
            f"{prefix}id": credit.pk, f"{prefix}movie": movie.pk, f"{prefix}person": credit.person_id,
            f"{prefix}role": credit.role, f"{prefix}order": credit.order, f"{prefix}character": credit.character,
        }  # fmt: skip
    return data | overrides


def listed(response) -> list[str]:
    """The titles on a change list page, in order."""
    return [movie.title for movie in response.context["cl"].result_list]


def run_action(client: Client, action: str, movies: list[Movie], **extra) -> object:
    """Post a change-list action for `movies`, as ticking them and pressing Go does."""
    data = {"action": action, "_selected_action": [movie.pk for movie in movies], **extra}
    return client.post(CHANGELIST, data, follow=True)


def notes(response) -> list[str]:
    """The admin messages shown after a request."""
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def fake_backend(settings: Settings) -> None:
    """The admin checks and makes vectors with the deterministic encoder (the demo catalog then reads stale)."""
    settings.EMBEDDING_BACKEND = "fake"


def test_the_change_list_searches_titles_and_people(staff_client):
    response = staff_client.get(CHANGELIST, {"q": "Coppola"})
    assert response.status_code == 200
    assert "The Godfather" in listed(response)
    assert "Jaws" not in listed(response)


def test_the_change_list_filters(staff_client):
    drama = Genre.objects.get(name="Drama")
    for params in (
        {"hidden__exact": "1"},
        {"embedding": "no"},
        {"embedding": "stale", "_facets": "1"},
        {"decade": "1970", "_facets": "1"},
        {"genres__id__exact": drama.pk},
        {"featured__exact": "1"},
        {"source": "demo"},
    ):
        assert staff_client.get(CHANGELIST, params).status_code == 200


def test_the_columns_sort(staff_client):
    columns = catalog_admin.MovieAdmin.list_display

    def column(name: str, field: str, *, descending: bool = False) -> list:
        response = staff_client.get(CHANGELIST, {"o": f"{'-' if descending else ''}{columns.index(name) + 1}"})
        return [getattr(movie, field) for movie in response.context["cl"].result_list]

    ratings = [value for value in column("rating", "vote_average", descending=True) if value is not None]
    assert len(ratings) > 50 and ratings == sorted(ratings, reverse=True)
    assert ratings[0] == Movie.objects.order_by("-vote_average").exclude(vote_average=None).first().vote_average
    years = [value for value in column("year", "year") if value is not None]
    assert years == sorted(years) and years[0] == Movie.objects.order_by("year").first().year
    titles = column("title", "title", descending=True)
    assert titles == list(Movie.objects.order_by("-title").values_list("title", flat=True)[: len(titles)])
    assert "o=" in staff_client.get(CHANGELIST).text  # the headings are links that sort


def test_the_decade_filter_lists_the_films_of_that_decade(staff_client):
    make_movie(title="Decade Probe Eighties", year=1984)
    make_movie(title="Decade Probe Nineties", year=1993)
    make_movie(title="Decade Probe Undated", year=None)

    assert listed(staff_client.get(CHANGELIST, {"q": "Decade Probe", "decade": "1980"})) == ["Decade Probe Eighties"]
    assert listed(staff_client.get(CHANGELIST, {"q": "Decade Probe", "decade": "none"})) == ["Decade Probe Undated"]
    page = staff_client.get(CHANGELIST)
    assert "?decade=1980" in page.text and "1980s" in page.text
    jaws = staff_client.get(CHANGELIST, {"decade": "1970"})
    assert "Jaws" in listed(jaws) and all(1970 <= movie.year < 1980 for movie in jaws.context["cl"].result_list)


def test_the_embedding_filter_tells_fresh_stale_and_missing_vectors(staff_client, fake_backend):
    make_movie(title="Vector Probe Fresh", embed_with="fake")
    stale = make_movie(title="Vector Probe Stale", embed_with="fake")
    Movie.objects.filter(pk=stale.pk).update(overview="Its overview was rewritten after it was embedded.")
    make_movie(title="Vector Probe Missing")

    def titles(value: str) -> list[str]:
        return listed(staff_client.get(CHANGELIST, {"q": "Vector Probe", "embedding": value}))

    assert titles("stale") == ["Vector Probe Stale"]
    assert titles("yes") == ["Vector Probe Fresh", "Vector Probe Stale"]
    assert titles("no") == ["Vector Probe Missing"]
    page = staff_client.get(CHANGELIST, {"q": "Vector Probe"})
    assert listed(page) == ["Vector Probe Fresh", "Vector Probe Missing", "Vector Probe Stale"]
    assert re.findall(r'<td class="field-vector">(\w+)</td>', page.text) == ["fresh", "missing", "stale"]


def test_vectors_of_another_model_read_stale(staff_client, fake_backend):
    # The demo catalog was embedded by the local model, not the configured (fake) one.
    assert listed(staff_client.get(CHANGELIST, {"q": "Jaws", "embedding": "stale"})) == ["Jaws"]


def test_posters_are_thumbnails_with_alt_text_and_a_placeholder_when_missing(staff_client):
    make_movie(title="Thumb Probe With", poster_url="https://images.example.com/w92/probe.jpg")
    make_movie(title="Thumb Probe Without")
    make_movie(title="Thumb Probe Scripted", poster_url="javascript:alert(1)")

    page = staff_client.get(CHANGELIST, {"q": "Thumb Probe"}).text
    assert '<img src="https://images.example.com/w92/probe.jpg" alt="Poster of Thumb Probe With"' in page
    assert 'role="img" aria-label="No poster for Thumb Probe Without"' in page
    assert "javascript:" not in page
    assert "admin/css/moviesite_admin.css" in page and "admin/js/moviesite_admin.js" in page


def test_markup_in_a_title_or_poster_address_is_escaped(staff_client):
    title = 'Probe "Quoted" <script>window.pwned=1</script>'
    make_movie(title=title, poster_url='https://example.com/p.jpg?x="><script>window.pwned=2</script>')

    page = staff_client.get(CHANGELIST, {"q": "Probe Quoted"}).text
    assert "<script>window.pwned" not in page
    assert 'alt="Poster of Probe &quot;Quoted&quot; &lt;script&gt;window.pwned=1&lt;/script&gt;"' in page
    assert 'src="https://example.com/p.jpg?x=&quot;&gt;&lt;script&gt;window.pwned=2&lt;/script&gt;"' in page


def test_the_change_form_opens_with_the_vector_status_read_only(staff_client):
    movie = Movie.objects.get(title="Jaws")
    response = staff_client.get(f"/admin/catalog/movie/{movie.pk}/change/")
    assert response.status_code == 200
    assert "all-MiniLM-L6-v2, 384 dimensions, fresh" in response.text
    assert 'name="embedding"' not in response.text
    # Every other field is editable, with autocomplete for the tags and the credited people.
    form = response.context["adminform"].form
    assert {"source", "source_ids", "imdb_id", "countries", "poster_url"} <= set(form.fields)
    for field in ("genres", "keywords", "person"):
        assert f'data-field-name="{field}"' in response.text


def test_saving_a_film_keeps_its_vector_marks_it_stale_and_says_so(staff_client):
    movie = Movie.objects.get(title="Jaws")
    vector_before, hash_before = list(movie.embedding), movie.embedding_hash
    data = change_form_data(movie, title="Jaws (restored)", overview=movie.overview + " Newly restored.")
    response = staff_client.post(f"/admin/catalog/movie/{movie.pk}/change/", data, follow=True)
    assert response.redirect_chain, response.context["adminform"].form.errors
    movie.refresh_from_db()
    assert movie.title == "Jaws (restored)"
    assert list(movie.embedding) == pytest.approx(vector_before)
    assert movie.embedding_hash == hash_before
    assert any("Jaws (restored) (1975)” is stale" in note and "embed_movies" in note for note in notes(response))
    page = staff_client.get(f"/admin/catalog/movie/{movie.pk}/change/")
    assert "384 dimensions, stale" in page.text
    assert ids(keyword_scores(Movie.objects.all(), "jaws restored", limit=5))[0] == movie.pk


def test_saving_a_film_unchanged_keeps_its_vector_fresh(staff_client):
    movie = Movie.objects.get(title="Jaws")
    response = staff_client.post(f"/admin/catalog/movie/{movie.pk}/change/", change_form_data(movie), follow=True)
    assert response.redirect_chain
    assert not any("stale" in note for note in notes(response))
    assert "384 dimensions, fresh" in staff_client.get(f"/admin/catalog/movie/{movie.pk}/change/").text


def test_an_emptied_source_ids_box_saves_as_no_rows_and_a_list_is_refused(staff_client):
    movie = make_movie(title="Source Probe", source_ids={"demo": 1})
    url = f"/admin/catalog/movie/{movie.pk}/change/"

    assert staff_client.post(url, change_form_data(movie, source_ids="")).status_code == 302
    movie.refresh_from_db()
    assert movie.source_ids == {}
    refused = staff_client.post(url, change_form_data(movie, source_ids="[1, 2]"))
    assert refused.status_code == 200
    assert "source_ids" in refused.context["adminform"].form.errors


def test_a_film_added_in_the_admin_has_no_vector_and_is_searchable(staff_client):
    movie = Movie(title="Added By Hand", year=2001)
    response = staff_client.post("/admin/catalog/movie/add/", change_form_data(movie), follow=True)
    added = Movie.objects.get(title="Added By Hand")
    assert added.embedding is None
    assert any("has no vector yet" in note for note in notes(response))
    assert ids(keyword_scores(Movie.objects.all(), "added by hand", limit=3))[0] == added.pk


def test_adding_a_cast_member_in_the_inline_makes_the_film_findable_and_its_vector_stale(staff_client):
    movie = Movie.objects.get(title="Jaws")
    data = change_form_data(movie)
    index = data["credits-TOTAL_FORMS"]
    person = Person.objects.create(name="Zebulon Quartermaine")
    data |= {
        "credits-TOTAL_FORMS": index + 1,
        f"credits-{index}-movie": movie.pk,
        f"credits-{index}-person": person.pk,
        f"credits-{index}-role": Credit.Role.CAST,
        f"credits-{index}-order": 9,
    }
    response = staff_client.post(f"/admin/catalog/movie/{movie.pk}/change/", data, follow=True)
    assert response.redirect_chain
    assert ids(keyword_scores(Movie.objects.all(), "quartermaine", limit=5)) == [movie.pk]
    assert any("is stale" in note for note in notes(response))


def test_hide_unhide_feature_and_unfeature_actions_stamp_the_change(staff_client):
    movie = Movie.objects.get(title="Jaws")
    long_ago = timezone.now() - datetime.timedelta(days=30)
    for action, field, value in (
        ("hide", "hidden", True),
        ("unhide", "hidden", False),
        ("feature", "featured", True),
        ("unfeature", "featured", False),
    ):
        Movie.objects.filter(pk=movie.pk).update(updated_at=long_ago)
        response = run_action(staff_client, action, [movie])
        assert response.redirect_chain[-1][0].startswith(CHANGELIST)
        assert notes(response) and notes(response)[-1].startswith("1 film ")
        movie.refresh_from_db()
        assert getattr(movie, field) is value
        assert movie.updated_at > long_ago


def test_a_hidden_film_leaves_the_public_site(staff_client):
    movie = Movie.objects.get(title="Jaws")
    run_action(staff_client, "hide", [movie])
    assert staff_client.get(movie.get_absolute_url()).status_code == 404
    assert movie.pk not in [film.pk for film in Movie.objects.visible().search("Jaws").results]


def test_re_embedding_refreshes_stale_and_missing_vectors(staff_client, fake_backend):
    stale = make_movie(title="Embed Probe Stale", embed_with="fake")
    Movie.objects.filter(pk=stale.pk).update(overview="A new overview the vector has not seen.")
    missing = make_movie(title="Embed Probe Missing")

    response = run_action(staff_client, "reembed", [stale, missing])

    assert notes(response)[-1].startswith("2 films re-embedded with fake-hashed-words")
    films = list(Movie.objects.filter(pk__in=[stale.pk, missing.pk]).with_details())
    assert all(film.embedding is not None for film in films)
    assert stale_films(films, get_encoder("fake")) == []


def test_a_curators_edit_of_the_story_leaves_both_vectors_stale_and_re_embedding_refreshes_both(
    staff_client, fake_backend
):
    movie = make_movie(
        title="Embed Probe Story", overview="A keeper tends a lighthouse.", directors=("Zebediah Quince",),
        embed_with="fake",
    )  # fmt: skip
    story_before = list(movie.story_embedding)
    data = change_form_data(movie, overview="A keeper leaves the lighthouse for the city.")
    assert staff_client.post(f"/admin/catalog/movie/{movie.pk}/change/", data, follow=True).redirect_chain
    [stale] = stale_films([Movie.objects.with_details().get(pk=movie.pk)], get_encoder("fake"))
    assert stale.document is not None and stale.story is not None  # the search vector (story) too

    run_action(staff_client, "reembed", [movie])

    film = Movie.objects.with_details().get(pk=movie.pk)
    assert stale_films([film], get_encoder("fake")) == []
    assert list(film.story_embedding) != pytest.approx(story_before)
    assert list(film.story_embedding) == pytest.approx(list(get_encoder("fake").encode([film.story()])[0]), abs=1e-6)


def test_re_embedding_refuses_more_films_than_a_request_should_embed(staff_client, fake_backend, monkeypatch):
    monkeypatch.setattr(catalog_admin, "MAX_REEMBED", 1)
    films = [make_movie(title="Embed Probe One"), make_movie(title="Embed Probe Two")]

    response = run_action(staff_client, "reembed", films)

    assert "embed_movies" in notes(response)[-1]
    assert not Movie.objects.filter(pk__in=[film.pk for film in films], embedding__isnull=False).exists()


def test_merging_asks_which_film_to_keep_and_proposes_the_most_voted(staff_client):
    sparse = make_movie(title="Merge Probe", vote_count=3, imdb_id="tt9100001")
    voted = make_movie(title="Merge Probe", vote_count=800)

    response = staff_client.post(CHANGELIST, {"action": "merge_duplicates", "_selected_action": [sparse.pk, voted.pk]})

    assert response.status_code == 200
    assert response.templates[0].name == "admin/catalog/movie/merge_confirmation.html"
    assert f'value="{voted.pk}" id="keep-{voted.pk}" checked' in response.text
    assert f'value="{sparse.pk}" id="keep-{sparse.pk}" required' in response.text
    assert "tt9100001" in response.text
    assert Movie.objects.filter(title="Merge Probe").count() == 2


def test_confirming_a_merge_keeps_the_chosen_film_and_deletes_the_others(staff_client):
    sparse = make_movie(title="Merge Probe", vote_count=3, imdb_id="tt9100001", cast=("Pell Arden",))
    voted = make_movie(title="Merge Probe", vote_count=800, tmdb_id=9100002, cast=("Pell Arden", "Cass Wynn"))

    response = run_action(staff_client, "merge_duplicates", [sparse, voted], post="yes", keep=sparse.pk)

    assert not Movie.objects.filter(pk=voted.pk).exists()
    sparse.refresh_from_db()
    assert (sparse.imdb_id, sparse.tmdb_id, sparse.vote_count) == ("tt9100001", 9100002, 3)
    assert sorted(sparse.credits.values_list("person__name", flat=True)) == ["Cass Wynn", "Pell Arden"]
    assert notes(response)[0].startswith(f"Merged “Merge Probe (2000)” (id {voted.pk}) into “Merge Probe (2000)”")
    assert LogEntry.objects.filter(object_id=str(sparse.pk), change_message__startswith="Merged").exists()


def test_a_merge_needs_at_least_two_films_and_a_choice_among_them(staff_client):
    lone = make_movie(title="Merge Probe Lone")
    other = make_movie(title="Merge Probe Other")

    response = run_action(staff_client, "merge_duplicates", [lone], post="yes", keep=lone.pk)
    assert "Select between 2 and" in notes(response)[-1]
    jaws = Movie.objects.get(title="Jaws")
    response = run_action(staff_client, "merge_duplicates", [lone, other], post="yes", keep=jaws.pk)
    assert "Choose which" in notes(response)[-1]
    assert Movie.objects.filter(pk__in=[lone.pk, other.pk, jaws.pk]).count() == 3


def test_people_and_tags_have_searchable_admins_for_autocomplete(staff_client):
    response = staff_client.get(
        "/admin/autocomplete/", {"app_label": "catalog", "model_name": "movie", "field_name": "genres", "term": "dra"}
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["Drama"]
    people = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "catalog", "model_name": "credit", "field_name": "person", "term": "Spielb"},
    )
    assert [item["text"] for item in people.json()["results"]] == ["Steven Spielberg"]
