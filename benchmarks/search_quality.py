"""Search quality on real data: our keyword / semantic / hybrid modes against BM25 and plain embedding cosine.

    .venv/bin/python benchmarks/search_quality.py [--sample 500]

The catalog is TMDB 5000 with IMDB-Movie-Data and IMDB Top 1000 merged onto it (they bring directors and cast,
which TMDB 5000's movies file lacks), in its own database `moviesite_search_bench` (imported with local
embeddings on first use, ~2 minutes). Labelled dev sets, built from the other real datasets:

- description: IMDB-Movie-Data's one-line description of a film (another writer's words) -> that film, for
  films that the merge matched to a TMDB film (whose stored overview is TMDB's, not this description);
- typo: a TMDB title with one typo (deleted, doubled, swapped or replaced letter in one word) -> that film;
- person: a director or lead actor named by IMDB-Movie-Data or IMDB Top 1000 -> every catalog film crediting
  them (a hit is any of them).

Metrics per set: MRR@10, hit@1, hit@10.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
FILES = [
    DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz",
    DATASETS / "imdb-movie-data" / "IMDB-Movie-Data.csv.gz",
    DATASETS / "imdb-top-1000" / "imdb_top_1000.csv.gz",
]
DATABASE = "moviesite_search_bench"
K = 10

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["MOVIESITE_DB_NAME"] = DATABASE

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from catalog import search  # noqa: E402
from catalog.models import Credit, Movie, normalise_title  # noqa: E402
from recommender import encoders  # noqa: E402

STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "he",
        "her",
        "his",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "she",
        "that",
        "the",
        "their",
        "they",
        "to",
        "was",
        "were",
        "which",
        "who",
        "will",
        "with",
    }
)


def ensure_catalog() -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        exists = cursor.fetchone()
    if exists and Movie.objects.filter(embedding__isnull=False).count() > 5000:
        return
    if not exists:
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], check=True, env=os.environ)
    subprocess.run([*manage, "import_movies", *map(str, FILES)], check=True, env=os.environ)


# -- dev sets ---------------------------------------------------------------------------------------------


def description_set() -> list[tuple[str, set[int]]]:
    rows = pd.read_csv(FILES[1])
    matched = {
        (normalise_title(m.title), m.year): m.pk
        for m in Movie.objects.filter(source="tmdb-movies", source_ids__has_key="imdb-movie-data")
    }
    cases = []
    for row in rows.itertuples():
        for year in (row.Year, row.Year - 1, row.Year + 1):
            pk = matched.get((normalise_title(row.Title), year))
            if pk:
                cases.append((row.Description, {pk}))
                break
    return cases


def typo(title: str, rng: random.Random) -> str:
    words = title.split()
    candidates = [i for i, word in enumerate(words) if len(word) >= 4 and word.isalpha()]
    if not candidates:
        return ""
    index = rng.choice(candidates)
    word = words[index]
    at = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["delete", "double", "swap", "replace"])
    if kind == "delete":
        word = word[:at] + word[at + 1 :]
    elif kind == "double":
        word = word[:at] + word[at] + word[at:]
    elif kind == "swap":
        word = word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :]
    else:
        word = word[:at] + rng.choice("aeiourstnl".replace(word[at].lower(), "")) + word[at + 1 :]
    words[index] = word
    return " ".join(words)


def typo_set(sample: int) -> list[tuple[str, set[int]]]:
    films = list(Movie.objects.filter(source="tmdb-movies").values_list("pk", "title"))
    by_title = defaultdict(list)
    for pk, title in films:
        by_title[normalise_title(title)].append(pk)
    rng = random.Random(1970)
    rng.shuffle(films)
    cases = []
    for pk, title in films:
        if len(by_title[normalise_title(title)]) > 1:
            continue  # remakes share a title: the query cannot say which one
        query = typo(title, rng)
        if query and normalise_title(query) not in by_title:
            cases.append((query, {pk}))
        if len(cases) == sample:
            break
    return cases


def person_set(sample: int) -> list[tuple[str, set[int]]]:
    names = set(pd.read_csv(FILES[1])["Director"]) | set(pd.read_csv(FILES[2])["Director"])
    names |= set(pd.read_csv(FILES[2])["Star1"]) | {a.split(",")[0].strip() for a in pd.read_csv(FILES[1])["Actors"]}
    films = defaultdict(set)
    for name, pk in Credit.objects.filter(person__name__in=names).values_list("person__name", "movie_id"):
        films[name].add(pk)
    cases = sorted((name, pks) for name, pks in films.items() if len(pks) >= 2)
    random.Random(1895).shuffle(cases)
    return cases[:sample]


# -- rankers ----------------------------------------------------------------------------------------------


def ours(mode: str, fusion: str = "relative_score"):
    films = Movie.objects.visible()

    def rank(query: str) -> list[int]:
        return [m.pk for m in search.search(films, query, mode=mode, limit=K, fusion=fusion).results]

    return rank


def tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [word for word in re.findall(r"[a-z0-9]+", text) if word not in STOP]


class BM25Reference:
    """rank-bm25's Okapi BM25 over the same fields, the title counted three times (a title boost)."""

    def __init__(self) -> None:
        from rank_bm25 import BM25Okapi

        rows = Movie.objects.values_list("pk", "title", "people_text", "tags_text", "overview", "tagline", "plot")
        self.ids, corpus = [], []
        for pk, title, people, tags, overview, tagline, plot in rows:
            self.ids.append(pk)
            corpus.append(tokens(title) * 3 + tokens(f"{people} {tags} {overview} {tagline} {plot}"))
        self.bm25 = BM25Okapi(corpus)

    def __call__(self, query: str) -> list[int]:
        scores = self.bm25.get_scores(tokens(query))
        return [self.ids[i] for i in np.argsort(-scores)[:K]]


class CosineReference:
    """Exact cosine between the query vector and every stored film vector (no index, no fusion)."""

    def __init__(self) -> None:
        rows = list(Movie.objects.filter(embedding__isnull=False).values_list("pk", "embedding"))
        self.ids = [pk for pk, _ in rows]
        self.matrix = np.vstack([np.asarray(vector, dtype=np.float32) for _, vector in rows])

    def __call__(self, query: str) -> list[int]:
        scores = self.matrix @ np.asarray(encoders.encode_query(query), dtype=np.float32)
        return [self.ids[i] for i in np.argsort(-scores)[:K]]


def prime_query_vectors(queries: list[str]) -> None:
    """Encode every query in a few big batches; searches then take their vector from this table."""
    encoder = encoders.get_encoder()
    vectors = encoder.encode(queries, batch_size=64)
    table = {query: list(map(float, vector)) for query, vector in zip(queries, vectors, strict=True)}
    original = encoders.encode_query
    encoders.encode_query = lambda text, backend=None: table.get(text) or original(text, backend)


# -- evaluation -------------------------------------------------------------------------------------------


def evaluate(ranker, cases) -> tuple[float, float, float]:
    reciprocal, first, top = 0.0, 0, 0
    for query, relevant in cases:
        ranked = ranker(query)[:K]
        rank = next((i for i, pk in enumerate(ranked, start=1) if pk in relevant), None)
        if rank:
            reciprocal += 1 / rank
            first += rank == 1
            top += 1
    n = len(cases)
    return reciprocal / n, first / n, top / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=500)
    args = parser.parse_args()
    ensure_catalog()
    sets = {
        "description": description_set(),
        "typo": typo_set(args.sample),
        "person": person_set(args.sample),
    }
    print(f"catalog: {Movie.objects.count()} films; " + ", ".join(f"{k}: {len(v)} queries" for k, v in sets.items()))
    prime_query_vectors(sorted({query for cases in sets.values() for query, _ in cases}))
    rankers = {
        "keyword": ours("keyword"),
        "semantic": ours("semantic"),
        "hybrid": ours("hybrid"),
        "hybrid, plain RRF (k=60) instead of score fusion": ours("hybrid", fusion="rrf"),
        "BM25 (rank-bm25, title x3)": BM25Reference(),
        "embedding cosine (exact)": CosineReference(),
    }
    print("\n| ranker | " + " | ".join(f"{name} MRR@10 / hit@1 / hit@10" for name in sets) + " |")
    print("| --- |" + " --- |" * len(sets))
    for name, ranker in rankers.items():
        started = time.perf_counter()
        cells = []
        for cases in sets.values():
            mrr, hit1, hit10 = evaluate(ranker, cases)
            cells.append(f"{mrr:.3f} / {hit1:.3f} / {hit10:.3f}")
        print(f"| {name} | " + " | ".join(cells) + f" |  ({time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
