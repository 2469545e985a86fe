"""Every dataset format the importer knows, read from small files with the datasets' real header lines."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import random
import re
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max

from catalog.importers.formats import detect_format
from catalog.importers.loader import FileReport, ImportResult, import_files
from catalog.models import Credit, Genre, Keyword, Movie, Person

pytestmark = pytest.mark.django_db

TMDB_MOVIES = (
    "budget,genres,homepage,id,keywords,original_language,original_title,overview,popularity,production_companies,"
    "production_countries,release_date,revenue,runtime,spoken_languages,status,tagline,title,vote_average,vote_count"
)
MOVIES_METADATA = (
    "adult,belongs_to_collection,budget,genres,homepage,id,imdb_id,original_language,original_title,overview,"
    "popularity,poster_path,production_companies,production_countries,release_date,revenue,runtime,spoken_languages,"
    "status,tagline,title,video,vote_average,vote_count"
)
TMDB_CREDITS = "movie_id,title,cast,crew"
CREDITS = "cast,crew,id"
KEYWORDS = "id,keywords"
LINKS = "movieId,imdbId,tmdbId"
MOVIELENS_MOVIES = "movieId,title,genres"
IMDB_TOP_1000 = (
    "Poster_Link,Series_Title,Released_Year,Certificate,Runtime,Genre,IMDB_Rating,Overview,Meta_score,Director,"
    "Star1,Star2,Star3,Star4,No_of_Votes,Gross"
)
IMDB_MOVIE_DATA = (
    "Rank,Title,Genre,Description,Director,Actors,Year,Runtime (Minutes),Rating,Votes,Revenue (Millions),Metascore"
)
KAGGLE_48K = "id,Name,PosterLink,Genres,Actors,Director,Description,DatePublished,Keywords,RatingCount,RatingValue"
WIKIPEDIA_PLOTS = "Release Year,Title,Origin/Ethnicity,Director,Cast,Genre,Wiki Page,Plot"


# -- writing dataset files -------------------------------------------------------------------------------


def csv_line(header: str, values: dict[str, object], *, newline: str = "\n") -> str:
    """One CSV row in the header's column order; columns not given are blank."""
    columns = header.split(",")
    unknown = set(values) - set(columns)
    assert not unknown, f"not in the header: {unknown}"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerow([values.get(column, "") for column in columns])
    return buffer.getvalue()


def write_csv(path: Path, header: str, rows: list[dict | str], *, newline: str = "\n") -> Path:
    """A dataset file: the header line, then each row (a dict of values, or a raw line written as is)."""
    lines = [header + newline]
    lines += [row if isinstance(row, str) else csv_line(header, row, newline=newline) for row in rows]
    data = "".join(lines).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def tmdb_names(*names: str, first_id: int = 99001) -> list[dict]:
    return [{"id": first_id + index, "name": name} for index, name in enumerate(names)]


def countries(*codes: str) -> list[dict]:
    return [{"iso_3166_1": code, "name": f"Country {code}"} for code in codes]


def cast_member(name: str, character: str, order: int) -> dict:
    return {
        "cast_id": order + 1,
        "character": character,
        "credit_id": f"59900000000000000000{order:04d}",
        "gender": 0,
        "id": 99100000 + order,
        "name": name,
        "order": order,
    }


def crew_member(name: str, job: str, department: str = "Directing") -> dict:
    return {"job": job, "name": name, "department": department, "credit_id": "5990000000000000000000ff", "id": 992}


def literal(value: object) -> str:
    """The Movies Dataset's spelling of a list column: a Python literal, single-quoted."""
    return repr(value)


# -- running the importer --------------------------------------------------------------------------------


def run_import(*paths: Path, **options) -> str:
    out = io.StringIO()
    call_command("import_movies", *paths, no_embed=True, stdout=out, stderr=out, **options)
    return out.getvalue()


def import_quietly(*paths: Path, **options) -> ImportResult:
    return import_files(list(paths), show_progress=False, **options)


def report_for(result: ImportResult, path: Path) -> FileReport:
    return next(report for report in result.files if report.path == str(path))


def cast_of(movie: Movie) -> list[tuple[str, str]]:
    credits = Credit.objects.filter(movie=movie, role=Credit.Role.CAST).order_by("order")
    return list(credits.values_list("person__name", "character"))


def directors_of(movie: Movie) -> list[str]:
    credits = Credit.objects.filter(movie=movie, role=Credit.Role.DIRECTOR).order_by("order")
    return list(credits.values_list("person__name", flat=True))


def genres_of(movie: Movie) -> set[str]:
    return set(movie.genres.values_list("name", flat=True))


def keywords_of(movie: Movie) -> set[str]:
    return set(movie.keywords.values_list("name", flat=True))


# -- sample rows -----------------------------------------------------------------------------------------


def tmdb_5000_row(tmdb_id: int, title: str, **values: object) -> dict:
    return {
        "budget": "12000000",
        "genres": json.dumps(tmdb_names("Drama")),
        "id": str(tmdb_id),
        "keywords": json.dumps(tmdb_names("Lighthouse")),
        "original_language": "en",
        "original_title": title,
        "overview": f"{title}: a keeper tends the light through one long storm.",
        "popularity": "12.5",
        "production_companies": json.dumps(tmdb_names("Harrowgate Pictures")),
        "production_countries": json.dumps(countries("GB")),
        "release_date": "2011-05-06",
        "revenue": "0",
        "runtime": "104.0",
        "spoken_languages": json.dumps([{"iso_639_1": "en", "name": "English"}]),
        "status": "Released",
        "title": title,
        "vote_average": "6.8",
        "vote_count": "412",
        **values,
    }


def movies_metadata_row(tmdb_id: int, title: str, **values: object) -> dict:
    return {
        "adult": "False",
        "belongs_to_collection": literal({"id": 990010, "name": f"{title} Collection", "poster_path": "/col.jpg"}),
        "budget": "30000000",
        "genres": literal(tmdb_names("Animation", "Family")),
        "homepage": "http://example.com/",
        "id": str(tmdb_id),
        "imdb_id": "",
        "original_language": "en",
        "original_title": title,
        "overview": f"{title}: toys in a tin box plan an escape.",
        "popularity": "21.946943",
        "poster_path": "",
        "production_companies": literal(tmdb_names("Pixel Harbour")),
        "production_countries": literal(countries("US")),
        "release_date": "1995-10-30",
        "revenue": "373554033.0",
        "runtime": "81.0",
        "spoken_languages": literal([{"iso_639_1": "en", "name": "English"}]),
        "status": "Released",
        "title": title,
        "video": "False",
        "vote_average": "7.7",
        "vote_count": "5415",
        **values,
    }


def movielens_row(movielens_id: int, title: str, genres: str = "Drama") -> dict:
    return {"movieId": str(movielens_id), "title": title, "genres": genres}


def kaggle_row(name: str, **values: object) -> dict:
    return {
        "id": "",
        "Name": name,
        "Genres": "Drama",
        "Actors": "Lina Corbett,Tomas Reyl",
        "Director": "Pell Oduya",
        "Description": f"{name}: two ferrymen wager their boats on a river race.",
        "DatePublished": "2004-03-12",
        **values,
    }


def wikipedia_row(title: str, year: int | str, **values: object) -> dict:
    return {
        "Release Year": str(year),
        "Title": title,
        "Origin/Ethnicity": "American",
        "Director": "Orin Vasq",
        "Cast": "Hedda Lusk, Barnaby Crane",
        "Genre": "drama",
        "Wiki Page": "https://en.wikipedia.org/wiki/" + title.replace(" ", "_"),
        "Plot": f"{title} opens on a fog-bound quay.\n\nIn the second act the quay floods.",
        **values,
    }


def imdb_top_row(title: str, year: str, **values: object) -> dict:
    return {
        "Poster_Link": "",
        "Series_Title": title,
        "Released_Year": year,
        "Certificate": "A",
        "Runtime": "142 min",
        "Genre": "Crime, Drama",
        "IMDB_Rating": "9.3",
        "Overview": f"{title}: two prisoners share a cell and a plan.",
        "Meta_score": "80",
        "Director": "Ysolde Karsk",
        "Star1": "Brannock Hale",
        "Star2": "Wren Ostby",
        "Star3": "",
        "Star4": "",
        "No_of_Votes": "1,234,567",
        "Gross": "28,341,469",
        **values,
    }


# -- tmdb-movies -----------------------------------------------------------------------------------------


def test_it_reads_tmdb_5000_movies_with_json_columns(tmp_path):
    path = write_csv(
        tmp_path / "tmdb_5000_movies.csv",
        TMDB_MOVIES,
        [
            tmdb_5000_row(
                90000101,
                "Quillfeather Light",
                genres=json.dumps(tmdb_names("Drama", "Science Fiction")),
                keywords=json.dumps(tmdb_names("Lighthouse", "Tidal Power")),
                production_countries=json.dumps(countries("GB", "US")),
                tagline="Keep the lamp lit.",
            ),
            tmdb_5000_row(
                90000102,
                "The Salt Orchard",
                original_title="Le Verger de Sel",
                original_language="FR",
                genres=json.dumps(tmdb_names("Comedy")),
                keywords="[]",
                release_date="1998-02-11",
                runtime="",
            ),
            tmdb_5000_row(90000103, "Broken Tidewater", genres='[{"id": 18, "name": "Drama"'),
        ],
    )

    result = import_quietly(path)

    report = report_for(result, path)
    assert (report.format, report.rows, report.created) == ("tmdb-movies", 3, 2)
    assert result.skipped == [f"{path}:4: column genres: broken JSON"]
    light = Movie.objects.get(tmdb_id=90000101)
    assert (light.title, light.year, light.release_date) == ("Quillfeather Light", 2011, date(2011, 5, 6))
    assert (light.runtime, light.vote_average, light.vote_count, light.popularity) == (104, 6.8, 412, 12.5)
    assert light.countries == ["GB", "US"]
    assert light.tagline == "Keep the lamp lit."
    assert light.overview.startswith("Quillfeather Light: a keeper")
    assert light.source == "tmdb-movies"
    assert genres_of(light) == {"Drama", "Science Fiction"}
    assert keywords_of(light) == {"lighthouse", "tidal power"}
    orchard = Movie.objects.get(tmdb_id=90000102)
    assert (orchard.title, orchard.original_title, orchard.original_language) == (
        "The Salt Orchard",
        "Le Verger de Sel",
        "fr",
    )
    assert (orchard.year, orchard.runtime) == (1998, None)
    assert keywords_of(orchard) == set()
    assert not Movie.objects.filter(tmdb_id=90000103).exists()


def test_it_reads_the_movies_dataset_metadata_with_python_literal_columns(tmp_path):
    path = write_csv(
        tmp_path / "movies_metadata.csv",
        MOVIES_METADATA,
        [
            movies_metadata_row(
                90000201,
                "Marrowgate",
                imdb_id="tt9900201",
                poster_path="/abc.jpg",
                runtime="142.0",
                production_countries=literal(countries("US", "CA")),
            ),
            movies_metadata_row(90000202, "", original_title="Tinbox Exodus"),
            movies_metadata_row(90000203, "Shifted Columns", id="1997-08-20"),
        ],
    )

    result = import_quietly(path)

    assert report_for(result, path).format == "tmdb-movies"
    assert result.created == 2
    assert result.skipped == [f"{path}:4: column id: '1997-08-20' is not a number"]
    movie = Movie.objects.get(tmdb_id=90000201)
    assert movie.poster_url == "https://image.tmdb.org/t/p/w500/abc.jpg"
    assert (movie.imdb_id, movie.runtime, movie.year) == ("tt9900201", 142, 1995)
    assert movie.countries == ["US", "CA"]
    assert genres_of(movie) == {"Animation", "Family"}
    untitled = Movie.objects.get(tmdb_id=90000202)
    assert (untitled.title, untitled.poster_url) == ("Tinbox Exodus", "")


# -- credits, keywords and links: enrichment only --------------------------------------------------------


def test_it_adds_directors_and_cast_in_billing_order_from_tmdb_5000_credits(tmp_path):
    movies = write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB_MOVIES, [tmdb_5000_row(90000301, "Keeper of Skerry")])
    cast = [
        cast_member("Orla Vennick", "Second Mate Orla", 1),
        cast_member("Abram Tull", "Keeper Abram", 0),
        cast_member("Signe Marlow", "", 2),
    ]
    crew = [
        crew_member("Hale Brunner", "Director"),
        crew_member("Ines Fallowby", "Producer", "Production"),
        crew_member("Maud Ferrant", "Director"),
    ]
    credits = write_csv(
        tmp_path / "tmdb_5000_credits.csv",
        TMDB_CREDITS,
        [
            {"movie_id": "90000301", "title": "Keeper of Skerry", "cast": json.dumps(cast), "crew": json.dumps(crew)},
            {
                "movie_id": "90000399",
                "title": "Nowhere Film",
                "cast": json.dumps([cast_member("Nobody Unbilled", "Ghost", 0)]),
                "crew": json.dumps([crew_member("Nobody Directing", "Director")]),
            },
        ],
    )

    result = import_quietly(movies, credits)

    report = report_for(result, credits)
    assert (report.format, report.rows, report.created, report.enriched) == ("tmdb-credits", 2, 0, 1)
    assert (report.unmatched, sum(report.skipped.values())) == (1, 0)
    movie = Movie.objects.get(tmdb_id=90000301)
    assert directors_of(movie) == ["Hale Brunner", "Maud Ferrant"]
    assert cast_of(movie) == [
        ("Abram Tull", "Keeper Abram"),
        ("Orla Vennick", "Second Mate Orla"),
        ("Signe Marlow", ""),
    ]
    assert not Person.objects.filter(name="Ines Fallowby").exists()
    assert not Movie.objects.filter(tmdb_id=90000399).exists()
    assert not Person.objects.filter(name__startswith="Nobody ").exists()


def test_it_reads_the_movies_dataset_credits_written_as_python_literals(tmp_path):
    movies = write_csv(
        tmp_path / "movies_metadata.csv",
        MOVIES_METADATA,
        [movies_metadata_row(90000311, "Gullwing Parade"), movies_metadata_row(90000312, "Gullwing Reprise")],
    )
    credits = write_csv(
        tmp_path / "credits.csv",
        CREDITS,
        [
            {
                "cast": literal([cast_member("Dara Quennell", "Captain O'Rourke", 0), cast_member("Fen Ashby", "", 1)]),
                "crew": literal([crew_member("Ilse Marchetti", "Director")]),
                "id": "90000311",
            },
            {"cast": literal([cast_member("Tam Corlis", "Pilot", 0)]), "crew": "[{'job': 'Director'", "id": "90000312"},
            {"cast": "[{'broken", "crew": "[]", "id": "90000399"},
        ],
    )

    result = import_quietly(credits, movies)

    report = report_for(result, credits)
    assert (report.format, report.enriched, report.unmatched) == ("credits", 1, 1)
    assert result.skipped == [f"{credits}:3: column crew: broken JSON"]
    parade = Movie.objects.get(tmdb_id=90000311)
    assert directors_of(parade) == ["Ilse Marchetti"]
    assert cast_of(parade) == [("Dara Quennell", "Captain O'Rourke"), ("Fen Ashby", "")]
    assert cast_of(Movie.objects.get(tmdb_id=90000312)) == []


def test_it_adds_lowercased_keywords_to_the_film_with_that_tmdb_id(tmp_path):
    movies = write_csv(tmp_path / "movies_metadata.csv", MOVIES_METADATA, [movies_metadata_row(90000401, "Brinefall")])
    keywords = write_csv(
        tmp_path / "keywords.csv",
        KEYWORDS,
        [
            {"id": "90000401", "keywords": literal(tmdb_names("Lighthouse Keeper", "storm"))},
            {"id": "90000499", "keywords": literal(tmdb_names("unseen"))},
            {"id": "abc", "keywords": "[]"},
        ],
    )

    result = import_quietly(movies, keywords)

    report = report_for(result, keywords)
    assert (report.format, report.enriched, report.unmatched) == ("keywords", 1, 1)
    assert result.skipped == [f"{keywords}:4: column id: 'abc' is not a number"]
    assert keywords_of(Movie.objects.get(tmdb_id=90000401)) == {"lighthouse keeper", "storm"}
    assert not Keyword.objects.filter(name="unseen").exists()


def test_it_adds_movielens_and_imdb_ids_from_links_to_the_film_with_that_tmdb_id(tmp_path):
    movies = write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB_MOVIES, [tmdb_5000_row(90000501, "Cinder Quay")])
    links = write_csv(
        tmp_path / "links.csv",
        LINKS,
        [
            {"movieId": "9900501", "imdbId": "0990501", "tmdbId": "90000501"},
            {"movieId": "9900599", "imdbId": "0990599", "tmdbId": "90000599"},
        ],
        newline="\r\n",
    )

    result = import_quietly(movies, links)

    report = report_for(result, links)
    assert (report.format, report.created, report.enriched, report.unmatched) == ("links", 0, 1, 1)
    movie = Movie.objects.get(tmdb_id=90000501)
    assert (movie.movielens_id, movie.imdb_id) == (9900501, "tt0990501")
    assert not Movie.objects.filter(movielens_id=9900599).exists()


# -- creating formats ------------------------------------------------------------------------------------


def test_it_reads_movielens_titles_with_their_year_and_trailing_article(tmp_path):
    path = write_csv(
        tmp_path / "movies.csv",
        MOVIELENS_MOVIES,
        [
            movielens_row(9900601, "Quillfeather Station, The (1999)", "Action|Sci-Fi"),
            movielens_row(9900602, "Marrowgate Variations (2003)", "(no genres listed)"),
            movielens_row(9900603, "Velvet Anchorage, A (1987)", "Children|Comedy"),
            movielens_row(9900604, "Ghost Number (2001)") | {"movieId": "x12"},
        ],
    )

    result = import_quietly(path)

    assert (report_for(result, path).format, result.created) == ("movielens-movies", 3)
    assert result.skipped == [f"{path}:5: column movieId: 'x12' is not a number"]
    station = Movie.objects.get(movielens_id=9900601)
    assert (station.title, station.year) == ("The Quillfeather Station", 1999)
    assert genres_of(station) == {"Action", "Science Fiction"}
    variations = Movie.objects.get(movielens_id=9900602)
    assert (variations.title, variations.year, genres_of(variations)) == ("Marrowgate Variations", 2003, set())
    anchorage = Movie.objects.get(movielens_id=9900603)
    assert (anchorage.title, genres_of(anchorage)) == ("A Velvet Anchorage", {"Family", "Comedy"})


def test_it_reads_imdb_top_1000_and_skips_a_year_that_is_a_certificate(tmp_path):
    thumbnail = "https://m.media-amazon.com/images/M/MV5BQuillTopThousand@._V1_UX67_CR0,0,67,98_AL_.jpg"
    path = write_csv(
        tmp_path / "imdb_top_1000.csv",
        IMDB_TOP_1000,
        [
            imdb_top_row("The Cartographer's Lament", "1994", Poster_Link=thumbnail, Star3="Ivo Kettle"),
            imdb_top_row("Orbit of Saltmarsh", "PG"),
        ],
    )

    result = import_quietly(path)

    assert (report_for(result, path).format, result.created) == ("imdb-top-1000", 1)
    assert result.skipped == [f"{path}:3: column Released_Year: 'PG' is not a number"]
    movie = Movie.objects.get(title="The Cartographer's Lament")
    assert movie.poster_url == "https://m.media-amazon.com/images/M/MV5BQuillTopThousand@._V1_SX300.jpg"
    assert (movie.year, movie.runtime, movie.vote_average, movie.vote_count) == (1994, 142, 9.3, 1234567)
    assert genres_of(movie) == {"Crime", "Drama"}
    assert directors_of(movie) == ["Ysolde Karsk"]
    assert [name for name, _ in cast_of(movie)] == ["Brannock Hale", "Wren Ostby", "Ivo Kettle"]
    assert not Movie.objects.filter(title="Orbit of Saltmarsh").exists()


def test_it_reads_imdb_movie_data_with_comma_separated_genres_and_actors(tmp_path):
    good = {
        "Rank": "1",
        "Title": "Vantablack Meridian",
        "Genre": "Action,Adventure,Sci-Fi",
        "Description": "A courier crosses a country where the sun never sets.",
        "Director": "Ottoline Graves",
        "Actors": "Piet Langmore, Anouk Sable, Rufus Tenby, Calla Dunmore",
        "Year": "2014",
        "Runtime (Minutes)": "121",
        "Rating": "8.1",
        "Votes": "757074",
        "Revenue (Millions)": "333.13",
        "Metascore": "76",
    }
    path = write_csv(
        tmp_path / "IMDB-Movie-Data.csv",
        IMDB_MOVIE_DATA,
        [good, good | {"Rank": "2", "Title": "Meridian Undone", "Runtime (Minutes)": "two hours"}],
    )

    result = import_quietly(path)

    assert (report_for(result, path).format, result.created) == ("imdb-movie-data", 1)
    assert result.skipped == [f"{path}:3: column Runtime (Minutes): 'two hours' is not a running time"]
    movie = Movie.objects.get(title="Vantablack Meridian")
    assert (movie.year, movie.runtime, movie.vote_average, movie.vote_count) == (2014, 121, 8.1, 757074)
    assert movie.overview == "A courier crosses a country where the sun never sets."
    assert genres_of(movie) == {"Action", "Adventure", "Science Fiction"}
    assert directors_of(movie) == ["Ottoline Graves"]
    assert [name for name, _ in cast_of(movie)] == ["Piet Langmore", "Anouk Sable", "Rufus Tenby", "Calla Dunmore"]


def test_it_reads_kaggle_48k_comma_lists_and_takes_the_year_from_an_iso_date(tmp_path):
    path = write_csv(
        tmp_path / "movie_data.csv",
        KAGGLE_48K,
        [
            kaggle_row(
                "Harrowgate Ferry",
                id="tt9900701",
                PosterLink="https://m.media-amazon.com/images/M/MV5BHarrowgateFerry.jpg",
                Genres="Comedy,Drama",
                Actors="Lina Corbett,Tomas Reyl,Ada Finch",
                Keywords="ferry,river crossing,Small Town",
                RatingCount="12,345",
                RatingValue="7.1",
            ),
            kaggle_row("Ferry Undated", DatePublished="2004-31-31"),
        ],
    )

    result = import_quietly(path)

    assert (report_for(result, path).format, result.created) == ("kaggle-48k", 1)
    assert result.skipped == [f"{path}:3: column DatePublished: '2004-31-31' is not a date"]
    movie = Movie.objects.get(imdb_id="tt9900701")
    assert (movie.title, movie.year, movie.release_date) == ("Harrowgate Ferry", 2004, date(2004, 3, 12))
    assert (movie.vote_count, movie.vote_average) == (12345, 7.1)
    assert movie.poster_url == "https://m.media-amazon.com/images/M/MV5BHarrowgateFerry.jpg"
    assert movie.overview.startswith("Harrowgate Ferry: two ferrymen")
    assert genres_of(movie) == {"Comedy", "Drama"}
    assert keywords_of(movie) == {"ferry", "river crossing", "small town"}
    assert [name for name, _ in cast_of(movie)] == ["Lina Corbett", "Tomas Reyl", "Ada Finch"]
    assert directors_of(movie) == ["Pell Oduya"]


def test_it_stores_wikipedia_plots_and_ignores_an_unknown_director(tmp_path):
    path = write_csv(
        tmp_path / "wiki_movie_plots_deduped.csv",
        WIKIPEDIA_PLOTS,
        [
            wikipedia_row("The Fenwick Tunnel", 1931, Director="Unknown", Genre="comedy, drama"),
            wikipedia_row("Starling Causeway", 1962, Genre="science fiction"),
            wikipedia_row("Causeway Unnumbered", "19O2", Plot="A one-line plot."),
        ],
    )

    result = import_quietly(path)

    assert (report_for(result, path).format, result.created) == ("wikipedia-plots", 2)
    assert result.skipped == [f"{path}:8: column Release Year: '19O2' is not a number"]
    tunnel = Movie.objects.get(title="The Fenwick Tunnel")
    assert tunnel.year == 1931
    assert tunnel.plot == "The Fenwick Tunnel opens on a fog-bound quay.\n\nIn the second act the quay floods."
    assert tunnel.overview == ""
    assert directors_of(tunnel) == []
    assert not Person.objects.filter(name="Unknown").exists()
    assert [name for name, _ in cast_of(tunnel)] == ["Hedda Lusk", "Barnaby Crane"]
    assert genres_of(tunnel) == {"Comedy", "Drama"}
    causeway = Movie.objects.get(title="Starling Causeway")
    assert directors_of(causeway) == ["Orin Vasq"]
    assert genres_of(causeway) == {"Science Fiction"}


# -- several files in one run ----------------------------------------------------------------------------


def test_a_kaggle_film_and_its_wikipedia_plot_merge_into_one_film_in_one_run(tmp_path):
    kaggle = write_csv(
        tmp_path / "movie_data.csv", KAGGLE_48K, [kaggle_row("The Lanternfish Accord", DatePublished="2006-09-01")]
    )
    wikipedia = write_csv(
        tmp_path / "wiki_movie_plots.csv", WIKIPEDIA_PLOTS, [wikipedia_row("Lanternfish Accord", 2007)]
    )

    output = run_import(kaggle, wikipedia)

    assert f"{kaggle} (kaggle-48k): 1 rows, 1 created, 0 matched" in output
    assert f"{wikipedia} (wikipedia-plots): 1 rows, 0 created, 1 matched (1 enriched, 0 unchanged)" in output
    movie = Movie.objects.get(title__endswith="Lanternfish Accord")
    assert (movie.title, movie.year, movie.source) == ("The Lanternfish Accord", 2006, "kaggle-48k")
    assert movie.overview.startswith("The Lanternfish Accord: two ferrymen")
    assert movie.plot.startswith("Lanternfish Accord opens on a fog-bound quay.")
    assert set(movie.source_ids) == {"kaggle-48k", "wikipedia-plots"}


def test_files_that_create_films_are_read_before_enrichment_files_whatever_their_order(tmp_path):
    links = write_csv(
        tmp_path / "links.csv", LINKS, [{"movieId": "9900801", "imdbId": "9900801", "tmdbId": "90000801"}]
    )
    movies = write_csv(tmp_path / "movies.csv", MOVIELENS_MOVIES, [movielens_row(9900801, "Pelican Dusk (1979)")])

    result = import_quietly(links, movies)

    assert [report.format for report in result.files] == ["movielens-movies", "links"]
    assert (report_for(result, links).enriched, report_for(result, links).unmatched) == (1, 0)
    movie = Movie.objects.get(movielens_id=9900801)
    assert (movie.title, movie.imdb_id, movie.tmdb_id) == ("Pelican Dusk", "tt9900801", 90000801)


# -- choosing the format ---------------------------------------------------------------------------------


def test_format_overrides_the_format_the_header_would_be_detected_as(tmp_path):
    movies = write_csv(tmp_path / "movies_metadata.csv", MOVIES_METADATA, [movies_metadata_row(90000901, "Ashgrove")])
    import_quietly(movies)
    path = write_csv(
        tmp_path / "tmdb_5000_movies.csv",
        TMDB_MOVIES,
        [
            tmdb_5000_row(90000901, "Retitled Ashgrove", keywords=json.dumps(tmdb_names("relay race"))),
            tmdb_5000_row(90000999, "Ghost Override"),
        ],
    )
    assert detect_format(TMDB_MOVIES.split(","), path).name == "tmdb-movies"

    output = run_import(path, format="keywords")

    assert f"{path} (keywords): 2 rows, 0 created, 1 matched (1 enriched, 0 unchanged), 1 about films not in" in output
    movie = Movie.objects.get(tmdb_id=90000901)
    assert movie.title == "Ashgrove"
    assert keywords_of(movie) == {"relay race"}
    assert not Movie.objects.filter(title="Ghost Override").exists()


def test_an_unknown_header_is_a_command_error_naming_the_file(tmp_path):
    # A Letterboxd export (a ratings file is a known format since issue 14).
    path = write_csv(tmp_path / "ratings.csv", "Date,Name,Year,Letterboxd URI,Rating", ["2024-01-01,Heat,1995,x,4\n"])
    with pytest.raises(CommandError, match=re.escape(str(path)) + r".*matches no known format.*--format"):
        run_import(path)


def test_a_column_the_chosen_format_needs_is_a_command_error_naming_it(tmp_path):
    path = write_csv(tmp_path / "IMDB-Movie-Data.csv", IMDB_MOVIE_DATA, [{"Title": "Wrong Shape", "Year": "2010"}])
    with pytest.raises(CommandError, match=r"missing column\(s\) .*Series_Title.* for format imdb-top-1000"):
        run_import(path, format="imdb-top-1000")
    assert not Movie.objects.filter(title="Wrong Shape").exists()


# -- bad input -------------------------------------------------------------------------------------------


def test_a_gzipped_file_is_read(tmp_path):
    path = write_csv(tmp_path / "wiki_movie_plots.csv.gz", WIKIPEDIA_PLOTS, [wikipedia_row("Gzip Estuary", 1958)])
    output = run_import(path)
    assert "(wikipedia-plots): 1 rows, 1 created" in output
    assert Movie.objects.get(title="Gzip Estuary").plot.startswith("Gzip Estuary opens")


def test_a_byte_order_mark_before_the_header_is_ignored(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"movieId,title,genres\n9900851,Bommel Harbour (1977),Drama\n")
    import_quietly(path)
    assert Movie.objects.get(movielens_id=9900851).title == "Bommel Harbour"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "posters.csv",
            b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(600),
            "the header is not valid utf-8-sig text",
        ),
        ("movies.csv.gz", b"movieId,title,genres\n9900861,Not Gzip (1990),Drama\n", "cannot read it as CSV"),
    ],
    ids=["png", "not-gzip"],
)
def test_a_file_that_is_not_csv_text_is_a_command_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError, match=re.escape(f"{path}: {message}")):
        run_import(path)


def test_an_unknown_encoding_is_a_command_error(tmp_path):
    path = write_csv(tmp_path / "movies.csv", MOVIELENS_MOVIES, [movielens_row(9900871, "Codepage Drift (1990)")])
    with pytest.raises(CommandError, match="cannot read it as CSV"):
        run_import(path, encoding="no-such-codec")


def test_a_latin_1_row_in_a_utf_8_file_is_skipped_until_read_with_its_encoding(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_bytes(
        (MOVIELENS_MOVIES + "\n9900901,Harbour Ember (2001),Drama\n").encode()
        + "9900902,Café Östermalm (2002),Comedy\n".encode("latin-1")
        + b"9900903,Tallow Creek (2003),Western\n"
    )

    result = import_quietly(path)

    assert result.created == 2
    assert result.skipped == [f"{path}:3: column title: not valid utf-8-sig text (try --encoding)"]
    assert not Movie.objects.filter(movielens_id=9900902).exists()

    output = run_import(path, encoding="latin-1")

    assert "3 rows, 1 created, 2 matched" in output
    assert Movie.objects.get(movielens_id=9900902).title == "Café Östermalm"


def test_a_row_with_too_many_fields_is_skipped_naming_its_line(tmp_path):
    path = write_csv(
        tmp_path / "movies.csv",
        MOVIELENS_MOVIES,
        [movielens_row(9900911, "Spillway (1984)"), "9900912,Overflow (1985),Drama,Extra,Fields\n"],
    )

    result = import_quietly(path)

    assert result.created == 1
    assert result.skipped == [f"{path}:3: 5 fields where the header has 3"]
    assert not Movie.objects.filter(movielens_id=9900912).exists()


def test_a_bad_date_is_skipped_naming_its_column(tmp_path):
    path = write_csv(
        tmp_path / "tmdb_5000_movies.csv",
        TMDB_MOVIES,
        [tmdb_5000_row(90000921, "Dateline Harbour"), tmdb_5000_row(90000922, "Dateless", release_date="31/31/2001")],
    )

    output = run_import(path)

    assert f"skipped {path}:3: column release_date: '31/31/2001' is not a date" in output
    assert "1 created" in output
    assert not Movie.objects.filter(tmdb_id=90000922).exists()


def test_no_film_could_be_read_only_when_every_row_was_bad(tmp_path):
    some_bad = write_csv(
        tmp_path / "some_bad.csv", IMDB_TOP_1000, [imdb_top_row("Halfway Good", "1999"), imdb_top_row("Bad", "TV")]
    )
    all_bad = write_csv(
        tmp_path / "all_bad.csv", IMDB_TOP_1000, [imdb_top_row("Bad One", "PG"), imdb_top_row("Bad Two", "U")]
    )
    only_unknown_films = write_csv(tmp_path / "keywords.csv", KEYWORDS, [{"id": "90000999", "keywords": "[]"}])

    run_import(some_bad)
    run_import(only_unknown_films)
    with pytest.raises(CommandError, match="no film could be read"):
        run_import(all_bad)

    assert Movie.objects.filter(title="Halfway Good").exists()
    assert not Movie.objects.filter(title__startswith="Bad ").exists()


# -- re-runs, dry runs and limits ------------------------------------------------------------------------


def write_multi_format_set(tmp_path: Path) -> list[Path]:
    cast = [cast_member("Abram Tull", "Keeper Abram", 0), cast_member("Orla Vennick", "Second Mate", 1)]
    return [
        write_csv(
            tmp_path / "tmdb_5000_movies.csv",
            TMDB_MOVIES,
            [tmdb_5000_row(90001001, "Rerun Lighthouse"), tmdb_5000_row(90001002, "Rerun Orchard")],
        ),
        write_csv(
            tmp_path / "tmdb_5000_credits.csv",
            TMDB_CREDITS,
            [
                {
                    "movie_id": "90001001",
                    "title": "Rerun Lighthouse",
                    "cast": json.dumps(cast),
                    "crew": json.dumps([crew_member("Hale Brunner", "Director")]),
                },
                {"movie_id": "90001099", "title": "Elsewhere", "cast": "[]", "crew": "[]"},
            ],
        ),
        write_csv(tmp_path / "keywords.csv", KEYWORDS, [{"id": "90001002", "keywords": literal(tmdb_names("pears"))}]),
        write_csv(tmp_path / "links.csv", LINKS, [{"movieId": "9901001", "imdbId": "9901001", "tmdbId": "90001001"}]),
        write_csv(
            tmp_path / "wiki_movie_plots.csv",
            WIKIPEDIA_PLOTS,
            [wikipedia_row("Rerun Orchard", 2012, Cast="", Genre="romance film"), wikipedia_row("Rerun Quay", 1950)],
        ),
        write_csv(tmp_path / "imdb_top_1000.csv", IMDB_TOP_1000, [imdb_top_row("Rerun Penitentiary", "1994")]),
    ]


def catalog_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Movie, Credit, Genre, Keyword, Person)}


def test_importing_the_same_files_twice_creates_and_enriches_nothing_the_second_time(tmp_path):
    paths = write_multi_format_set(tmp_path)
    first = import_quietly(*paths)
    assert (first.created, first.updated) == (4, 4)
    orchard = Movie.objects.get(tmdb_id=90001002)
    assert orchard.plot.startswith("Rerun Orchard opens")
    assert genres_of(orchard) == {"Drama", "Romance"}
    counts = catalog_counts()
    last_update = Movie.objects.aggregate(last=Max("updated_at"))["last"]

    second = import_quietly(*paths)

    assert (second.created, second.updated, second.unchanged) == (0, 0, first.read)
    assert all(report.unread_since for report in second.files)  # unchanged files are not even read
    forced = import_quietly(*paths, force=True)
    assert (forced.created, forced.updated, forced.unchanged) == (0, 0, first.read)
    assert [report.unmatched for report in forced.files] == [report.unmatched for report in first.files]
    assert catalog_counts() == counts
    assert Movie.objects.aggregate(last=Max("updated_at"))["last"] == last_update


def test_an_unchanged_file_is_read_again_when_rereading_could_change_something(tmp_path):
    keyword_row = {"id": "90001601", "keywords": literal([{"id": 1, "name": "Late Arrival"}])}
    keywords = write_csv(tmp_path / "keywords.csv", KEYWORDS, [keyword_row])
    movies = write_csv(tmp_path / "movies.csv", TMDB_MOVIES, [tmdb_5000_row(90001601, "Late Arrival")])
    assert report_for(import_quietly(keywords), keywords).unmatched == 1

    import_quietly(movies)  # the film the keywords were about now exists
    assert report_for(import_quietly(keywords), keywords).enriched == 1
    assert "late arrival" in keywords_of(Movie.objects.get(tmdb_id=90001601))
    assert report_for(import_quietly(keywords), keywords).unread_since

    Movie.objects.filter(tmdb_id=90001601).delete()  # a film the file made is gone: reading it restores it
    assert report_for(import_quietly(movies), movies).created == 1


def test_dry_run_reports_what_it_would_create_and_writes_nothing(tmp_path):
    movies, credits = write_multi_format_set(tmp_path)[:2]
    counts = catalog_counts()

    output = run_import(movies, credits, dry_run=True)

    assert f"{movies} (tmdb-movies): 2 rows, 2 created" in output
    assert f"{credits} (tmdb-credits): 2 rows, 0 created, 1 matched (1 enriched, 0 unchanged)" in output
    assert "nothing written (--dry-run)" in output
    assert catalog_counts() == counts
    assert not Movie.objects.filter(title__startswith="Rerun ").exists()


def test_limit_stops_after_that_many_rows(tmp_path):
    path = write_csv(
        tmp_path / "movies.csv",
        MOVIELENS_MOVIES,
        [movielens_row(9901100 + n, f"Limited Reel {n} ({1990 + n})") for n in range(1, 5)],
    )

    output = run_import(path, limit=2)

    assert "2 created" in output
    assert sorted(Movie.objects.filter(title__startswith="Limited Reel").values_list("title", flat=True)) == [
        "Limited Reel 1",
        "Limited Reel 2",
    ]


# -- edge cases found by review --------------------------------------------------------------------------


def test_full_credits_replace_a_loose_list_whatever_order_the_files_come_in(tmp_path):
    movies = write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB_MOVIES, [tmdb_5000_row(90001201, "Quarry Light")])
    credits = write_csv(
        tmp_path / "tmdb_5000_credits.csv",
        TMDB_CREDITS,
        [
            {
                "movie_id": 90001201,
                "title": "Quarry Light",
                "cast": json.dumps([cast_member("Exact Actor", "Role", 0)]),
                "crew": json.dumps([crew_member("Exact Director", "Director")]),
            }
        ],
    )
    year = date.fromisoformat(tmdb_5000_row(90001201, "Quarry Light")["release_date"]).year
    plots = write_csv(
        tmp_path / "plots.csv",
        WIKIPEDIA_PLOTS,
        [wikipedia_row("Quarry Light", year, Director="Orin Vasq", Cast="Loose Name")],
    )

    run_import(movies, credits, plots)
    movie = Movie.objects.get(tmdb_id=90001201)
    assert directors_of(movie) == ["Exact Director"]
    assert cast_of(movie) == [("Exact Actor", "Role")]

    second = run_import(movies, credits, plots)
    assert "0 created, 0 updated" in second.splitlines()[-1]


def test_rows_before_min_year_are_not_errors(tmp_path):
    path = write_csv(tmp_path / "movies.csv", MOVIELENS_MOVIES, [movielens_row(9901301, "Silent Reel (1920)")])

    output = run_import(path, min_year=1950)

    assert "1 before --min-year" in output
    assert "0 skipped" in output
    assert not Movie.objects.filter(movielens_id=9901301).exists()


def test_a_row_with_too_few_fields_is_skipped_naming_its_line(tmp_path):
    path = write_csv(
        tmp_path / "imdb_top_1000.csv",
        IMDB_TOP_1000,
        [imdb_top_row("Whole Row", "1994"), "http://x,Probe Truncated,1994\n"],
    )

    result = import_quietly(path)

    assert result.skipped == [f"{path}:3: 3 fields where the header has 16"]
    assert not Movie.objects.filter(title="Probe Truncated").exists()


def test_rows_past_the_limit_are_never_read(tmp_path):
    path = write_csv(
        tmp_path / "movies.csv",
        MOVIELENS_MOVIES,
        [movielens_row(9901401, "Only One (1990)"), movielens_row(9901402, "Second (1991)"), "bad,row\n"],
    )

    result = import_quietly(path, limit=1)

    assert (report_for(result, path).rows, result.created, result.skipped) == (1, 1, [])


def test_a_row_spanning_several_lines_is_reported_where_it_starts(tmp_path):
    path = write_csv(
        tmp_path / "plots.csv",
        WIKIPEDIA_PLOTS,
        [wikipedia_row("Three Line Plot", "19x9", Plot="First line.\nSecond line.\nThird line.")],
    )

    result = import_quietly(path)

    assert result.skipped == [f"{path}:2: column Release Year: '19x9' is not a number"]


def test_a_byte_order_mark_is_ignored_with_an_explicit_utf_8_encoding(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_bytes(codecs.BOM_UTF8 + f"{MOVIELENS_MOVIES}\n9901501,Marked Reel (1990),Drama\n".encode())

    result = import_quietly(path, encoding="utf-8")

    assert [report.format for report in result.files] == ["movielens-movies"]
    assert Movie.objects.filter(movielens_id=9901501, title="Marked Reel").exists()


def test_runaway_texts_are_cut_at_a_word_below_what_full_text_search_holds():
    from catalog.importers.records import MovieRecord
    from catalog.models import OVERVIEW_MAX_LENGTH, PLOT_MAX_LENGTH

    plot = " ".join(f"w{n}" for n in range(200_000))
    record = MovieRecord(title="Long", overview="word " * 5000, plot=plot)
    assert PLOT_MAX_LENGTH - 10 < len(record.plot) <= PLOT_MAX_LENGTH
    assert plot.startswith(record.plot + " ")  # cut between two words
    assert len(record.overview) <= OVERVIEW_MAX_LENGTH
    assert MovieRecord(title="Short", plot="A short plot.").plot == "A short plot."
