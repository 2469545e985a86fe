"""Ratings files (MovieLens ratings.csv, The Movies Dataset ratings_small.csv) resolved through links."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.changes import catalog_imported
from catalog.importers.formats import detect_format
from catalog.importers.ratings import import_ratings
from catalog.models import ImportedRating, Movie
from catalog.tests.test_changes import listeners
from catalog.tests.test_import_formats import LINKS, import_quietly, report_for, write_csv
from recommender.models import CoLikedList
from recommender.receivers import refresh_co_liked

pytestmark = pytest.mark.django_db

RATINGS = "userId,movieId,rating,timestamp"
# MovieLens ids given by the links file below to films of the demo catalog (by their TMDB ids).
HEAT, GODFATHER, ALIEN = 6, 858, 1214


def links(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "links.csv",
        LINKS,
        [
            {"movieId": HEAT, "imdbId": "", "tmdbId": 949},
            {"movieId": GODFATHER, "imdbId": "", "tmdbId": 238},
            {"movieId": ALIEN, "imdbId": "", "tmdbId": 348},
        ],
    )


def film(tmdb_id: int) -> Movie:
    return Movie.objects.get(tmdb_id=tmdb_id)


@pytest.mark.parametrize("name", ["ratings.csv", "ratings_small.csv.gz"])
def test_a_ratings_file_lands_its_good_rows_and_reports_bad_rows_and_unknown_films_by_line(tmp_path, name):
    ratings = write_csv(
        tmp_path / name,
        RATINGS,
        [
            {"userId": 1, "movieId": HEAT, "rating": "4.5", "timestamp": 964982703},
            {"userId": 1, "movieId": GODFATHER, "rating": "5.0", "timestamp": 964982224},
            {"userId": 2, "movieId": HEAT, "rating": "3", "timestamp": ""},
            {"userId": 2, "movieId": 999999, "rating": "4.0", "timestamp": 964982224},  # not in the catalog
            {"userId": 3, "movieId": ALIEN, "rating": "7", "timestamp": 964982224},  # line 6: out of range
            {"userId": "x", "movieId": ALIEN, "rating": "4", "timestamp": 964982224},  # line 7: not a number
            "4,1214\n",  # line 8: too few fields
        ],
    )
    assert detect_format(RATINGS.split(","), ratings).name == "ratings"

    # Given before the links: ratings are read after them all the same.
    result = import_quietly(ratings, links(tmp_path))

    report = report_for(result, ratings)
    assert (report.format, report.rows, report.unmatched) == ("ratings", 7, 1)
    assert (report.ratings.new, report.ratings.changed, report.ratings.unchanged) == (3, 0, 0)
    assert result.ratings_changed == 3
    assert [line.split(": ", 1)[0] for line in result.skipped] == [f"{ratings}:6", f"{ratings}:7", f"{ratings}:8"]
    assert "column rating" in result.skipped[0] and "column userId" in result.skipped[1]
    source = "ratings" if name == "ratings.csv" else "ratings_small"
    stored = ImportedRating.objects.filter(source=source).order_by("user", "movie__title")
    assert [(r.user, r.movie.title, r.rating) for r in stored] == [
        (1, "Heat", 4.5),
        (1, "The Godfather", 5.0),
        (2, "Heat", 3.0),
    ]
    assert stored[0].rated_at.year == 2000 and stored[2].rated_at is None


def test_a_re_run_creates_nothing_and_a_changed_rating_is_updated_in_place(tmp_path):
    rows = [
        {"userId": 1, "movieId": HEAT, "rating": "4.5", "timestamp": 964982703},
        {"userId": 2, "movieId": GODFATHER, "rating": "2", "timestamp": 964982703},
    ]
    ratings = write_csv(tmp_path / "ratings.csv", RATINGS, rows)
    import_quietly(links(tmp_path), ratings)

    again = import_quietly(links(tmp_path), ratings, force=True)  # read again, not skipped as unchanged
    counts = report_for(again, ratings).ratings
    assert (counts.new, counts.changed, counts.unchanged) == (0, 0, 2)
    assert again.ratings_changed == 0

    rows[1]["rating"] = "4"
    changed = import_quietly(write_csv(tmp_path / "ratings.csv", RATINGS, rows))
    counts = report_for(changed, tmp_path / "ratings.csv").ratings
    assert (counts.new, counts.changed, counts.unchanged) == (0, 1, 1)
    assert ImportedRating.objects.filter(source="ratings").count() == 2
    assert ImportedRating.objects.get(source="ratings", user=2).rating == 4.0


def test_an_import_cut_short_completes_on_a_re_run_with_no_duplicates(tmp_path):
    rows = [{"userId": user, "movieId": HEAT, "rating": "4", "timestamp": ""} for user in range(1, 8)]
    ratings = write_csv(tmp_path / "ratings.csv", RATINGS, rows)
    import_quietly(links(tmp_path))
    film_of = {HEAT: film(949).pk}
    # Batches of two commit on their own; the import stops (as if killed) after five rows.
    first = import_ratings(ratings, source="ratings", film_of=film_of, limit=5, batch_rows=2, skip=print)
    assert first.new == 5 and ImportedRating.objects.count() == 5

    rest = import_ratings(ratings, source="ratings", film_of=film_of, batch_rows=2, skip=print)
    assert (rest.new, rest.unchanged) == (2, 5)
    assert ImportedRating.objects.filter(movie=film(949)).count() == 7


def test_the_same_rating_twice_in_a_file_keeps_the_last_one(tmp_path):
    ratings = write_csv(
        tmp_path / "ratings.csv",
        RATINGS,
        [
            {"userId": 1, "movieId": HEAT, "rating": "2", "timestamp": ""},
            {"userId": 1, "movieId": HEAT, "rating": "5", "timestamp": ""},
        ],
    )
    import_quietly(links(tmp_path), ratings)
    assert list(ImportedRating.objects.values_list("rating", flat=True)) == [5.0]


def test_users_of_two_datasets_stay_apart(tmp_path):
    row = [{"userId": 1, "movieId": HEAT, "rating": "4", "timestamp": ""}]
    import_quietly(links(tmp_path), write_csv(tmp_path / "ratings.csv", RATINGS, row))
    import_quietly(write_csv(tmp_path / "ratings_small.csv", RATINGS, row))
    import_quietly(write_csv(tmp_path / "mine.csv", RATINGS, row), ratings_source="ratings")
    assert sorted(ImportedRating.objects.values_list("source", flat=True)) == ["ratings", "ratings_small"]


def test_the_command_reports_ratings_and_refits_the_co_liked_lists(tmp_path):
    rows = [
        {"userId": user, "movieId": movie, "rating": "5", "timestamp": ""}
        for user in range(1, 13)
        for movie in (HEAT, GODFATHER)
    ]
    ratings = write_csv(tmp_path / "ratings.csv", RATINGS, rows)
    out = io.StringIO()
    call_command("import_movies", links(tmp_path), ratings, "--no-embed", stdout=out, stderr=io.StringIO())

    text = out.getvalue()
    assert f"{ratings} (ratings): 24 rows, 24 ratings matched (24 new, 0 changed, 0 unchanged)" in text
    assert "Collaborative filtering: 2 films with co-liked lists" in text
    heat = film(949)
    assert heat.co_liked.likers == 12
    assert heat.co_liked.movie_ids == [film(238).pk] and heat.co_liked.co_likers == [12]


def test_the_refit_is_a_receiver_of_the_import_signal_and_no_fit_leaves_it_for_fit_cf(tmp_path):
    assert refresh_co_liked in listeners(catalog_imported)
    rows = [{"userId": user, "movieId": movie, "rating": "5", "timestamp": ""} for user in range(1, 13)
            for movie in (HEAT, GODFATHER)]  # fmt: skip
    ratings = write_csv(tmp_path / "ratings.csv", RATINGS, rows)
    out = io.StringIO()
    call_command("import_movies", links(tmp_path), ratings, "--no-embed", "--no-fit", stdout=out, stderr=io.StringIO())
    assert "24 new" in out.getvalue() and "Collaborative filtering" not in out.getvalue()
    assert not CoLikedList.objects.exists()
    call_command("fit_cf", stdout=io.StringIO(), stderr=io.StringIO())
    assert CoLikedList.objects.filter(movie=film(949)).exists()
