"""Bring your ratings: Letterboxd and IMDb exports (tiny files written here), bad rows, limits, re-uploads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Movie, Rating
from catalog.user_ratings import MAX_ROWS, MAX_UPLOAD_BYTES, import_ratings, parse_export

pytestmark = pytest.mark.django_db

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-02,The Godfather,1972,https://boxd.it/1,5\n"
    "2024-01-03,godfather: part ii,1974,https://boxd.it/2,4.5\n"  # case, punctuation and article folded
    "2024-01-04,Jaws,1976,https://boxd.it/3,0.5\n"  # a year off by one still matches
    "2024-01-05,A Film Nobody Made,1999,https://boxd.it/4,3\n"
    "2024-01-06,Alien,1979,https://boxd.it/5,six\n"
    "2024-01-07,Alien,1979,https://boxd.it/6,5.5\n"
    "2024-01-08,Alien,1979\n"
)


def user(name: str = "importer"):
    return get_user_model().objects.create_user(name)


def imdb_file() -> bytes:
    godfather = Movie.objects.get(title="The Godfather")
    Movie.objects.filter(pk=godfather.pk).update(imdb_id="tt0068646")
    return (
        b"Const,Your Rating,Date Rated,Title,Original Title,URL,Title Type,IMDb Rating,Runtime (mins),Year,"
        b"Genres,Num Votes,Release Date,Directors\n"
        b"tt0068646,9,2024-01-01,The Godfather,The Godfather,https://www.imdb.com/title/tt0068646/,Movie,9.2,175,"
        b'1972,"Crime, Drama",2000000,1972-03-24,Francis Ford Coppola\n'
        b"tt9999999,7,2024-01-01,Unknown,Unknown,,Movie,7,90,2001,Drama,10,2001-01-01,Someone\n"
        b"nm0000001,7,2024-01-01,Bad Id,Bad Id,,Movie,7,90,2001,Drama,10,2001-01-01,Someone\n"
        b"tt0000002,11,2024-01-01,Bad Rating,Bad Rating,,Movie,7,90,2001,Drama,10,2001-01-01,Someone\n"
    )


def test_a_letterboxd_export_matches_by_folded_title_and_year_within_one():
    rater = user()
    result = import_ratings(user=rater, data=LETTERBOXD.encode())
    assert result.format == "letterboxd"
    assert (result.rows, result.matched, result.created) == (7, 3, 3)
    stars = dict(Rating.objects.filter(user=rater).values_list("movie__title", "stars"))
    assert stars == {"The Godfather": Decimal("5"), "The Godfather Part II": Decimal("4.5"), "Jaws": Decimal("0.5")}
    assert [(row.line, row.title, row.year) for row in result.unmatched] == [(5, "A Film Nobody Made", 1999)]


def test_bad_letterboxd_rows_are_reported_by_line_and_good_rows_still_land():
    result = import_ratings(user=user(), data=LETTERBOXD.encode())
    lines = {row.line: row.error for row in result.skipped}
    assert set(lines) == {6, 7, 8}
    assert "Rating" in lines[6] and "fields" in lines[8]


def test_an_imdb_export_matches_by_imdb_id_and_halves_its_ten_point_scale():
    rater = user()
    result = import_ratings(user=rater, data=imdb_file())
    assert result.format == "imdb"
    assert (result.matched, result.created) == (1, 1)
    assert Rating.objects.get(user=rater).stars == Decimal("4.5")
    assert [row.title for row in result.unmatched] == ["Unknown"]
    assert {row.line for row in result.skipped} == {4, 5}


def test_uploading_the_same_file_again_changes_nothing():
    rater = user()
    import_ratings(user=rater, data=LETTERBOXD.encode())
    before = list(Rating.objects.filter(user=rater).order_by("pk").values_list("pk", "stars", "updated_at"))
    again = import_ratings(user=rater, data=LETTERBOXD.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert list(Rating.objects.filter(user=rater).order_by("pk").values_list("pk", "stars", "updated_at")) == before


def test_a_changed_rating_in_a_new_export_updates_only_that_film():
    rater = user()
    import_ratings(user=rater, data=LETTERBOXD.encode())
    result = import_ratings(
        user=rater, data=LETTERBOXD.replace("https://boxd.it/3,0.5", "https://boxd.it/3,2").encode()
    )
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    assert Rating.objects.get(user=rater, movie__title="Jaws").stars == Decimal("2")


def test_hidden_films_are_never_matched():
    Movie.objects.filter(title="Jaws").update(hidden=True)
    result = import_ratings(user=user(), data=LETTERBOXD.encode())
    assert "Jaws" in [row.title for row in result.unmatched]


def test_an_import_touches_only_the_uploaders_ratings():
    rater, other = user(), user("other")
    Rating.objects.create(user=other, movie=Movie.objects.get(title="Jaws"), stars=Decimal("5"))
    import_ratings(user=rater, data=LETTERBOXD.encode())
    assert Rating.objects.get(user=other).stars == Decimal("5")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"title,rating\nJaws,5\n", "Not a ratings export"),
        (b"\x00\x01\x02binary", "not a CSV"),
        (b"", "Not a ratings export"),
        (b"Date,Name,Year,Letterboxd URI,Rating\n" + b"2024-01-01,Jaws,1975,x,4\n" * (MAX_ROWS + 1), "rows"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "MB"),
    ],
)
def test_a_file_that_is_no_ratings_export_or_too_big_is_refused_whole(data, message):
    result = import_ratings(user=user(), data=data)
    assert message in result.error
    assert not Rating.objects.exists()


def test_a_byte_order_mark_and_windows_line_ends_are_read():
    data = "\ufeff" + LETTERBOXD.replace("\n", "\r\n")
    parsed = parse_export(data.encode())
    assert parsed.format == "letterboxd"
    assert [rating.line for rating in parsed.ratings] == [2, 3, 4, 5]


def test_a_film_named_twice_takes_its_last_rating():
    data = "Date,Name,Year,Letterboxd URI,Rating\n2024-01-01,Jaws,1975,x,1\n2024-02-01,Jaws,1975,y,4\n"
    rater = user()
    result = import_ratings(user=rater, data=data.encode())
    assert (result.matched, result.created) == (2, 1)
    assert Rating.objects.get(user=rater).stars == Decimal("4")
