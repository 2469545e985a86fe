from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.importers.loader import import_files
from catalog.models import Movie
from catalog.search import keyword_scores
from catalog.tests.helpers import ids

pytestmark = pytest.mark.django_db

HEADER = [
    "title", "year", "release_date", "original_title", "original_language", "countries", "runtime", "genres",
    "keywords", "directors", "cast", "overview", "imdb_id", "tmdb_id", "vote_average", "featured",
]  # fmt: skip
DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo_movies.csv"


def write_fixture(path: Path, rows: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" for key in HEADER} | row)
    return path


def film(title: str, **fields) -> dict:
    return {
        "title": title,
        "year": "2001",
        "genres": "Drama|Mystery",
        "keywords": "orchard|winter",
        "directors": "Mira Holm",
        "cast": "Tove Lind|Arne Dahl",
        "overview": f"{title} is a film about an orchard in winter.",
        **fields,
    }


def run_import(*paths: Path, **options) -> str:
    out = io.StringIO()
    call_command("import_movies", *paths, no_embed=True, stdout=out, stderr=out, **options)
    return out.getvalue()


def test_the_demo_catalog_is_loaded_with_vectors_and_credits():
    assert Movie.objects.count() >= 300
    godfather = Movie.objects.with_credits().get(title="The Godfather")
    assert [p.name for p in godfather.directors] == ["Francis Ford Coppola"]
    assert godfather.cast[0].person.name == "Marlon Brando"
    assert godfather.imdb_id == "tt0068646"
    assert not Movie.objects.filter(embedding__isnull=True).exists()
    assert set(Movie.objects.values_list("embedding_model", flat=True)) == {"all-MiniLM-L6-v2"}


def test_reimporting_the_demo_catalog_changes_nothing():
    before = Movie.objects.count()
    output = run_import(DEMO)
    assert "0 created, 0 updated" in output
    assert Movie.objects.count() == before


def test_a_fixture_file_creates_films_with_their_relations(tmp_path):
    path = write_fixture(tmp_path / "films.csv", [film("Orchard Winter", imdb_id="tt9900001", tmdb_id="990001")])
    output = run_import(path)
    assert "1 created" in output
    movie = Movie.objects.with_credits().get(imdb_id="tt9900001")
    assert movie.tmdb_id == 990001
    assert sorted(g.name for g in movie.genres.all()) == ["Drama", "Mystery"]
    assert [c.person.name for c in movie.cast] == ["Tove Lind", "Arne Dahl"]
    assert movie.source == "fixture"
    assert ids(keyword_scores(Movie.objects.all(), "holm orchard", limit=5))[0] == movie.pk


def test_gzipped_files_are_read(tmp_path):
    path = write_fixture(tmp_path / "films.csv.gz", [film("Gzip Garden")])
    run_import(path)
    assert Movie.objects.filter(title="Gzip Garden").exists()


def test_broken_rows_are_reported_with_their_line_and_skipped(tmp_path):
    path = write_fixture(
        tmp_path / "films.csv",
        [film("Good One"), film("Bad Year", year="19x5"), film(""), film("Bad Date", release_date="2001-13-45")],
    )
    result = import_files([path], show_progress=False)
    assert result.created == 1
    assert len(result.skipped) == 3
    assert f"{path}:3: column year: '19x5' is not a number" in result.skipped
    assert f"{path}:4: column title: title is empty" in result.skipped
    assert any(line.startswith(f"{path}:5: column release_date") for line in result.skipped)


def test_a_file_with_an_unknown_header_is_a_clear_error(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(CommandError, match="matches no known format"):
        run_import(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_import(tmp_path / "missing.csv")


def test_a_second_file_enriches_the_same_film_by_title_and_year(tmp_path):
    first = write_fixture(tmp_path / "a.csv", [film("The Quiet Pier", year="1987")])
    second = write_fixture(
        tmp_path / "b.csv", [film("Quiet Pier", year="1988", imdb_id="tt9900002", keywords="pier|fog")]
    )
    run_import(first)
    output = run_import(second)
    assert "0 created, 1 updated" in output
    movie = Movie.objects.get(title="The Quiet Pier")
    assert movie.imdb_id == "tt9900002"
    assert movie.year == 1987  # same source overwrites, but the matched film keeps its identity
    assert {k.name for k in movie.keywords.all()} == {"orchard", "winter", "pier", "fog"}


def test_a_remake_with_another_id_is_a_different_film(tmp_path):
    path = write_fixture(
        tmp_path / "a.csv",
        [film("Harbour Lights", tmdb_id="990010"), film("Harbour Lights", year="2002", tmdb_id="990011")],
    )
    run_import(path)
    assert Movie.objects.filter(title="Harbour Lights").count() == 2


def test_min_year_limit_and_dry_run(tmp_path):
    path = write_fixture(tmp_path / "a.csv", [film("Old Reel", year="1950"), film("New Reel A"), film("New Reel B")])
    run_import(path, dry_run=True)
    assert not Movie.objects.filter(title__endswith="Reel").exists()
    output = run_import(path, min_year=1970, limit=1)
    assert "1 created" in output
    assert list(Movie.objects.filter(title__contains="Reel").values_list("title", flat=True)) == ["New Reel A"]


def test_a_genre_whose_slug_a_curator_changed_is_found_by_its_name(tmp_path):
    from catalog.models import Genre

    Genre.objects.update_or_create(name="Mystery", defaults={"slug": "whodunit"})
    path = write_fixture(tmp_path / "films.csv", [film("Orchard Winter", imdb_id="tt9900002")])
    run_import(path)
    movie = Movie.objects.get(imdb_id="tt9900002")
    assert sorted(g.slug for g in movie.genres.all()) == ["drama", "whodunit"]
    assert Genre.objects.filter(name="Mystery").count() == 1


def test_people_and_keywords_already_known_are_linked_not_created_again(tmp_path):
    from catalog.models import Keyword, Person

    people, keywords = Person.objects.count(), Keyword.objects.count()
    first = write_fixture(
        tmp_path / "first.csv", [film("Orchard Winter", imdb_id="tt9900003", keywords="quince|frost pocket")]
    )
    run_import(first)
    assert Person.objects.count() == people + 3 and Keyword.objects.count() == keywords + 2
    second = write_fixture(
        tmp_path / "second.csv",
        [film("Orchard Spring", imdb_id="tt9900004", cast="Arne Dahl|Ny Namn", keywords="frost pocket")],
    )
    run_import(second)
    assert Person.objects.count() == people + 4 and Keyword.objects.count() == keywords + 2
    spring = Movie.objects.with_credits().get(imdb_id="tt9900004")
    winter = Movie.objects.with_credits().get(imdb_id="tt9900003")
    assert [c.person.name for c in spring.cast] == ["Arne Dahl", "Ny Namn"]
    assert spring.cast[0].person_id == winter.cast[1].person_id


def test_a_batch_costs_the_same_statements_whatever_its_number_of_films(tmp_path):
    """Every lookup and insert of a batch is one statement over arrays, never a statement per film: twenty
    new films with their genres, keywords and people take what one does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(rows: list[dict], name: str) -> int:
        path = write_fixture(tmp_path / name, rows)
        with CaptureQueriesContext(connection) as captured:
            import_files([path], show_progress=False)
        return len(captured.captured_queries)

    one = statements([film("Orchard Alone", imdb_id="tt9910000")], "one.csv")
    many = [film(f"Orchard {n}", imdb_id=f"tt99100{n:02d}", cast=f"Actor {n}|Tove Lind") for n in range(1, 21)]
    assert statements(many, "many.csv") == one
