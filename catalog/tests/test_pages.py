from __future__ import annotations

import re

import pytest

from catalog.models import Movie
from catalog.querysets import MovieQuerySet
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db


def test_the_home_page_browses_featured_films(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'role="search"' in response.text
    featured = Movie.objects.filter(featured=True).order_by("-vote_average").first()
    assert featured.title in response.text
    assert "Featured and popular films" in response.text


def test_a_search_shows_results_with_links_to_film_pages(client):
    response = client.get("/", {"q": "godfather", "mode": "hybrid"})
    assert response.status_code == 200
    godfather = Movie.objects.get(title="The Godfather")
    assert response.text.index(f'href="/movies/{godfather.pk}/"') < response.text.index("Godfather Part II")


def test_filters_and_pagination_links_keep_the_query(client):
    response = client.get("/", {"q": "", "genre": ["drama"], "year_min": 1990})
    assert response.status_code == 200
    assert "genre=drama" in response.text and "page=2" in response.text
    assert client.get("/", {"genre": ["drama"], "page": 2}).status_code == 200


def test_invalid_search_input_is_a_400_page_with_the_reason(client):
    response = client.get("/", {"year_min": "soon", "q": "x"})
    assert response.status_code == 400
    assert "Enter a whole number." in response.text
    assert client.get("/", {"q": "nul\x00byte"}).status_code == 400


def test_the_film_page_shows_facts_and_forty_similar_films(client):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/")
    assert response.status_code == 200
    assert "Francis Ford Coppola" in response.text and "Marlon Brando" in response.text
    assert "40 films like The Godfather" in response.text
    assert response.text.count('class="card"') == 40


def test_unknown_and_hidden_films_are_404(client):
    movie = Movie.objects.get(title="Jaws")
    movie.hidden = True
    movie.save()
    assert client.get(f"/movies/{movie.pk}/").status_code == 404
    assert client.get("/movies/999999999/").status_code == 404


def test_titles_are_escaped(client):
    movie = make_movie(title="<script>alert(1)</script>", overview="<b>bold</b>", year=2001)
    response = client.get(f"/movies/{movie.pk}/")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.text


def test_a_poster_url_is_shown_over_the_placeholder(client):
    movie = make_movie(title="Poster Test", poster_url="https://example.com/p.jpg")
    response = client.get(f"/movies/{movie.pk}/")
    assert 'class="poster-img" src="https://example.com/p.jpg"' in response.text
    assert 'class="poster-placeholder"' in response.text


# -- the search form --------------------------------------------------------------------------------------


def test_the_search_box_tells_the_script_where_suggestions_and_films_are(client):
    html = client.get("/").text
    assert 'data-autocomplete="/api/autocomplete/"' in html
    assert 'data-film-url="/movies/999999999/"' in html
    assert '<label class="visually-hidden" for="id_q">Search films</label>' in html


def test_the_hybrid_balance_is_a_plain_range_input_that_reaches_the_search(client, monkeypatch):
    html = client.get("/").text
    assert 'type="range" name="alpha" value="0.5"' in html and 'step="0.1"' in html
    assert '<label for="id_alpha">Hybrid balance</label>' in html

    seen = []
    search = MovieQuerySet.search
    monkeypatch.setattr(MovieQuerySet, "search", lambda self, query, **kw: seen.append(kw) or search(self, query, **kw))
    response = client.get("/", {"q": "a shark terrorizes a beach town", "mode": "hybrid", "alpha": "0.8"})

    assert response.status_code == 200
    assert seen[-1]["alpha"] == 0.8 and seen[-1]["mode"] == "hybrid"
    assert 'value="0.8"' in response.text
    client.get("/", {"q": "jaws"})
    assert seen[-1]["alpha"] == 0.5


def test_the_balance_changes_the_ranking(client):
    def titles(alpha: str) -> list[str]:
        response = client.get("/", {"q": "a shark terrorizes a beach town", "mode": "hybrid", "alpha": alpha})
        return [movie.title for movie in response.context["page"].results]

    assert titles("0") != titles("1")
    assert titles("1")[0] == "Jaws"


@pytest.mark.parametrize("alpha", ["-0.1", "1.5", "lots", "nan"])
def test_a_balance_outside_nought_to_one_is_a_400(client, alpha):
    response = client.get("/", {"q": "jaws", "alpha": alpha})
    assert response.status_code == 400
    assert "Hybrid balance:" in response.text


def test_a_decade_lists_only_films_of_that_decade(client):
    response = client.get("/", {"decade": "1970"})
    assert response.status_code == 200
    years = [movie.year for movie in response.context["page"].results]
    assert years and all(1970 <= year <= 1979 for year in years)
    assert '<option value="1970" selected>1970s</option>' in response.text
    assert "Films matching your filters" in response.text
    assert '<details class="filters" open>' in response.text


def test_the_filters_panel_opens_only_when_something_in_it_is_set(client):
    plain = client.get("/", {"q": "jaws", "mode": "hybrid", "alpha": "0.5", "ordering": "relevance", "decade": ""})
    assert '<details class="filters">' in plain.text
    assert '<details class="filters" open>' in client.get("/", {"q": "jaws", "ordering": "title"}).text
    assert '<details class="filters" open>' in client.get("/", {"year_min": "1990", "year_max": "1980"}).text


def test_a_decade_narrows_a_year_range(client):
    response = client.get("/", {"decade": "1970", "year_min": "1975", "year_max": "1990", "ordering": "year"})
    years = [movie.year for movie in response.context["page"].results]
    assert years and all(1975 <= year <= 1979 for year in years)
    assert years == sorted(years)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"decade": "1975"}, "Select a valid choice."),
        ({"year_min": "2000", "year_max": "1990"}, "“From year” must not be after “To year”."),
        ({"ordering": "cheapest"}, "Select a valid choice."),
        ({"mode": "psychic"}, "Select a valid choice."),
        ({"genre": "no-such-genre"}, "Select a valid choice."),
        ({"page": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"page": "41"}, "Ensure this value is less than or equal to 40."),
    ],
)
def test_bad_filters_are_a_400_that_says_why(client, params, message):
    response = client.get("/", params)
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text


def test_a_person_filter_lists_their_films(client):
    response = client.get("/", {"person": "Coppola"})
    films = response.context["page"].results
    assert films and all(any("Coppola" in credit.person.name for credit in movie.credits.all()) for movie in films)


def test_newest_first_orders_by_year_descending(client):
    response = client.get("/", {"ordering": "-year"})
    years = [movie.year for movie in response.context["page"].results]
    assert years == sorted(years, reverse=True)
    assert '<option value="-year" selected>Newest first</option>' in response.text
    assert '<option value="year">Oldest first</option>' in response.text


def test_pagination_says_where_the_visitor_is(client):
    first = client.get("/")
    pages = -(-Movie.objects.visible().count() // 24)
    assert f'<span aria-current="page">Page 1 of {pages}</span>' in first.text
    assert 'rel="prev"' not in first.text and 'rel="next" href="?page=2"' in first.text
    last = client.get("/", {"page": pages})
    assert f"Page {pages} of {pages}" in last.text and 'rel="next"' not in last.text
    assert 'rel="prev"' in last.text


def test_a_single_page_of_results_has_no_pagination(client):
    response = client.get("/", {"q": "Jaws", "mode": "keyword"})
    assert response.status_code == 200
    assert 'aria-label="Pages"' not in response.text


def test_the_query_is_escaped_in_the_heading_the_title_and_the_box(client):
    response = client.get("/", {"q": '<script>alert("q")</script>'})
    assert response.status_code == 200
    assert "<script>alert(" not in response.text
    assert response.text.count("&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;") >= 3


# -- the film page ----------------------------------------------------------------------------------------


def similar_titles(response) -> list[str]:
    return [movie.title for movie in response.context["similar"]]


def test_the_method_switch_marks_the_current_method(client):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/")
    assert '<a href="?method=blend#similar" aria-current="page">People and content</a>' in response.text
    assert '<a href="?method=cf#similar">People who liked this also liked</a>' in response.text
    assert '<a href="?method=knn#similar">Nearest vectors</a>' in response.text
    assert '<a href="?method=svm#similar">Exemplar SVM</a>' in response.text
    assert '<a href="?method=tfidf#similar">Shared words (TF-IDF)</a>' in response.text

    response = client.get(f"/movies/{movie.pk}/", {"method": "svm"})
    assert '<a href="?method=svm#similar" aria-current="page">Exemplar SVM</a>' in response.text
    assert '<a href="?method=knn#similar">Nearest vectors</a>' in response.text


@pytest.mark.parametrize("method", ["blend", "cf", "knn", "svm", "tfidf"])
def test_each_method_lists_forty_films_with_a_reason(client, method):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/", {"method": method})
    assert response.status_code == 200
    assert "40 films like The Godfather" in response.text
    assert response.text.count('class="card"') == 40
    assert "The Godfather Part II" in similar_titles(response)[:5]
    assert movie.pk not in [film.pk for film in response.context["similar"]]
    assert response.text.count('class="card-why"') >= 30


def test_knn_and_svm_cards_say_what_the_films_share(client):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/")
    assert "Shares Al Pacino" in response.text


def test_tfidf_cards_name_the_words_the_films_share(client):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/", {"method": "tfidf"})
    assert "Shared words: " in response.text
    assert "Ranked by the rare words" in response.text


def test_an_unknown_method_is_a_400(client):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/", {"method": "vibes"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.text
    assert "The Godfather" in response.text and 'class="card"' not in response.text


def test_the_film_page_links_its_people_and_genres_to_searches(client):
    movie = Movie.objects.get(title="The Godfather")
    html = client.get(f"/movies/{movie.pk}/").text
    assert '<a href="/?person=Francis%20Ford%20Coppola">Francis Ford Coppola</a>' in html
    assert '<a href="/?genre=crime">Crime</a>' in html
    assert "<h2>Synopsis</h2>" in html


def test_a_card_poster_is_decorative_and_the_film_page_poster_is_described(client):
    movie = make_movie(title="Poster Alt", poster_url="https://example.com/alt.jpg", featured=True, popularity=1e9)
    film_page = client.get(f"/movies/{movie.pk}/").text
    assert 'alt="Poster of Poster Alt"' in film_page
    home = client.get("/").text
    assert 'src="https://example.com/alt.jpg" alt=""' in home


def test_a_film_without_a_poster_gets_a_placeholder_coloured_by_genre(client):
    drama = make_movie(title="Placeholder A", genres=("Drama",))
    other_drama = make_movie(title="Placeholder B", genres=("Drama",))
    html_a = client.get(f"/movies/{drama.pk}/").text
    html_b = client.get(f"/movies/{other_drama.pk}/").text
    hue = re.search(r'class="poster" style="--hue: (\d+)"', html_a).group(1)
    assert f'class="poster" style="--hue: {hue}"' in html_b
    assert '<span class="poster-title">Placeholder A</span>' in html_a
    assert "<img" not in html_a.split('class="film"')[1].split("</article>")[0]


def test_similar_films_and_their_reasons_are_escaped(client):
    godfather = Movie.objects.get(title="The Godfather")
    twin = make_movie(
        title="<i>Evil twin</i>",
        year=1972,
        genres=("Crime", "Drama"),
        keywords=("<b>kw</b>", "mafia", "crime family"),
        directors=("Francis Ford Coppola",),
        cast=("Marlon Brando", "Al Pacino"),
        overview="The ageing head of a New York mafia family hands his empire to his reluctant youngest son.",
        embed_with="local",
    )
    godfather.keywords.add(twin.keywords.get(name="<b>kw</b>"))

    response = client.get(f"/movies/{godfather.pk}/")

    assert twin.pk in [film.pk for film in response.context["similar"]]
    assert "<i>Evil twin</i>" not in response.text and "<b>kw</b>" not in response.text
    assert "&lt;i&gt;Evil twin&lt;/i&gt;" in response.text
    assert "&lt;b&gt;kw&lt;/b&gt;" in response.text
