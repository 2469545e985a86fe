"""Build a catalog of a million films from the real ones, through the importer's own path (issue 16).

    .venv/bin/python benchmarks/make_1m.py configure     # once: the server settings below (restarts it)
    .venv/bin/python benchmarks/make_1m.py real-vectors  # once: the TMDB 5000 films embedded by the product
    .venv/bin/python benchmarks/make_1m.py generate      # the CSV and the vectors, in benchmarks/.cache/
    .venv/bin/python benchmarks/make_1m.py import        # fresh database, `import_files`, lexeme statistics
    .venv/bin/python benchmarks/make_1m.py vectors       # binary COPY of the vectors, one UPDATE
    .venv/bin/python benchmarks/make_1m.py index [--halfvec] [--m 16] [--ef-construction 64]
    .venv/bin/python benchmarks/make_1m.py all           # real-vectors (if missing), generate, import, vectors, index

The database (`moviesite_1m`) lives on its own embedded server, `MOVIESITE_PGDATA=benchmarks/.cache/pgdata_1m`
(set here unless given), so its settings and its size never touch the worktree's test server.

What the rows are made of (all from ../shared/datasets, never IMDB Top 1000's overviews nor MovieLens ratings):
- the 4,803 TMDB 5000 films themselves, with their real all-MiniLM-L6-v2 vectors (`REAL_VECTORS`, made by
  the `real-vectors` step: the product imports and embeds TMDB 5000 in a scratch database, then they are read);
- 995k synthetic films, each drawn from a real film A and a second real film B sharing a genre with it:
  a title stitched from the start of A's title and the end of B's (or "A: B"), made unique; an overview of
  A's sentences and one of B's, shuffled; A's genres and a sample of A's and B's keywords; a director and
  cast drawn (long-tailed) from 200k names recombined from IMDB-Movie-Data's real first names and surnames;
  A's year, runtime, language and ratings perturbed; a popularity with a long tail;
- each synthetic vector is 0.8·A + 0.2·B + Gaussian noise (sd 0.015 per dimension), renormalised: the
  films cluster round real ones the way remakes and genre films do, without being copies of them.

The import is the product's: the rows are written in the demo catalog's CSV format ("fixture": title, year,
genres, keywords, directors, cast, overview...) and read by `catalog.importers.loader.import_files`, the
function `manage.py import_movies` calls (COPY of new films, unnest inserts of tags and credits). The
vectors are never computed by the model (1M texts would take days here): they are written by binary COPY
into a scratch table and one UPDATE, with the HNSW index dropped meanwhile as `embed_movies` does.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# MOVIESITE_1M_CACHE: another checkout's cache (its generated files and its database), to measure there.
CACHE = Path(os.environ.get("MOVIESITE_1M_CACHE") or ROOT / "benchmarks" / ".cache")
DATASETS = ROOT.parent / "shared" / "datasets"
TMDB = DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz"
IMDB = DATASETS / "imdb-movie-data" / "IMDB-Movie-Data.csv.gz"
REAL_VECTORS = CACHE / "real_vectors.npz"  # tmdb_id, vectors (float32, 384): the TMDB 5000 films' own
CSV_PATH = CACHE / "films_1m.csv"
VECTORS_PATH = CACHE / "vectors_1m.npy"
DATABASE = "moviesite_1m"
MODEL = "all-MiniLM-L6-v2"
SYNTHETIC_TMDB_IDS = 90_000_000  # far above TMDB's own ids, so no synthetic film matches a real one
NAMES = 200_000
NOISE = 0.015
# The server of this benchmark (2 cores, 24 GB shared by five agents): enough shared_buffers to hold the
# HNSW index of 1M vectors (~2 GB as vector, ~1 GB as halfvec), and WAL room for a 1M-row UPDATE.
SERVER_SETTINGS = {
    "shared_buffers": "3GB",
    "maintenance_work_mem": "4GB",
    "max_parallel_maintenance_workers": "2",
    "max_wal_size": "8GB",
    "effective_cache_size": "8GB",
}

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("MOVIESITE_PGDATA", str(CACHE / "pgdata_1m"))
os.environ["MOVIESITE_DB_NAME"] = DATABASE


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def embed_real_films() -> None:
    """`REAL_VECTORS`: the TMDB 5000 films as the product embeds them. `manage.py import_movies` (which embeds
    with the configured, packaged model) into a scratch database of this server, then each film's tmdb id and
    vector are read back."""
    connection = _setup()
    scratch = f"{DATABASE}_real"
    started = time.perf_counter()
    fresh_database(scratch)
    env = {**os.environ, "MOVIESITE_DB_NAME": scratch}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "import_movies", str(TMDB)], check=True, env=env)
    log(f"TMDB 5000 imported and embedded in {scratch}: {time.perf_counter() - started:.0f} s")
    import psycopg

    with psycopg.connect(**{**connection.get_connection_params(), "dbname": scratch}) as scratch_connection:
        rows = scratch_connection.execute(
            "SELECT tmdb_id, embedding::real[] FROM catalog_movie"
            " WHERE tmdb_id IS NOT NULL AND embedding IS NOT NULL ORDER BY tmdb_id"
        ).fetchall()
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(
        REAL_VECTORS,
        tmdb_id=np.array([row[0] for row in rows], dtype=np.int64),
        vectors=np.array([row[1] for row in rows], dtype=np.float32),
    )
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE {scratch} WITH (FORCE)")
    log(f"{len(rows)} real films' vectors written to {REAL_VECTORS}")


# -- generate ----------------------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+", text or "") if part.strip()]


def _json_names(value: str) -> list[str]:
    try:
        return [item["name"] for item in json.loads(value or "[]")]
    except (ValueError, TypeError, KeyError):
        return []


def _people_names(rng: np.random.Generator) -> list[str]:
    """200k person names: IMDB-Movie-Data's real directors and actors first, then their first names and
    surnames recombined."""
    import pandas as pd

    imdb = pd.read_csv(IMDB)
    real = list(dict.fromkeys(
        name.strip() for value in [*imdb["Director"], *imdb["Actors"]] for name in str(value).split(",") if name.strip()
    ))  # fmt: skip
    firsts = sorted({name.split()[0] for name in real if len(name.split()) > 1})
    lasts = sorted({" ".join(name.split()[1:]) for name in real if len(name.split()) > 1})
    names = dict.fromkeys(real)
    while len(names) < NAMES:
        for first, last in zip(rng.choice(firsts, 50_000), rng.choice(lasts, 50_000), strict=True):
            names[f"{first} {last}"] = None
    return list(names)[:NAMES]


def _long_tail(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """Indices in [0, size) where the first ones are drawn far more often (a few people make many films)."""
    return np.minimum((size * rng.random(count) ** 3).astype(np.int64), size - 1)


def generate(films: int, seed: int = 16) -> None:
    import pandas as pd

    _setup()
    from catalog.models import normalise_title

    rng = np.random.default_rng(seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    real_vectors = np.load(REAL_VECTORS)
    vector_of = dict(zip(real_vectors["tmdb_id"].tolist(), real_vectors["vectors"], strict=True))
    tmdb = pd.read_csv(TMDB, keep_default_na=False)
    tmdb = tmdb[tmdb["id"].isin(vector_of.keys())].reset_index(drop=True)
    real = len(tmdb)
    log(f"{real} real films with vectors; {films - real} synthetic films to make")
    genres = [_json_names(value) for value in tmdb["genres"]]
    keywords = [_json_names(value) for value in tmdb["keywords"]]
    overviews = [_sentences(text) for text in tmdb["overview"]]
    titles = [str(title) for title in tmdb["title"]]
    runtimes = pd.to_numeric(tmdb["runtime"], errors="coerce").fillna(100).clip(60, 240).astype(int).tolist()
    votes = pd.to_numeric(tmdb["vote_average"], errors="coerce").fillna(6.0).replace(0, 6.0).tolist()
    languages = tmdb["original_language"].tolist()
    years = [int(date[:4]) if date[:4].isdigit() else 2000 for date in tmdb["release_date"]]
    vectors = np.stack([vector_of[tmdb_id] for tmdb_id in tmdb["id"]]).astype(np.float32)
    by_genre: dict[str, np.ndarray] = {}
    for index, names in enumerate(genres):
        for name in names:
            by_genre.setdefault(name, []).append(index)
    by_genre = {name: np.array(indices) for name, indices in by_genre.items()}
    people = _people_names(rng)
    log(f"{len(people)} person names")

    out_vectors = np.lib.format.open_memmap(VECTORS_PATH, mode="w+", dtype=np.float32, shape=(films, 384))
    out_vectors[:real] = vectors
    columns = ["title", "year", "release_date", "original_language", "runtime", "genres", "keywords", "directors",
               "cast", "overview", "tagline", "popularity", "vote_average", "vote_count", "tmdb_id"]  # fmt: skip
    seen: set[str] = set()
    with CSV_PATH.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for index, row in tmdb.iterrows():
            seen.add(normalise_title(titles[index]))
            writer.writerow([
                titles[index], years[index], row["release_date"], row["original_language"], row["runtime"],
                "|".join(genres[index]), "|".join(keywords[index]), "", "", row["overview"], row["tagline"],
                row["popularity"], row["vote_average"], row["vote_count"], row["id"],
            ])  # fmt: skip
        chunk = 50_000
        for start in range(real, films, chunk):
            count = min(chunk, films - start)
            a = rng.integers(0, real, count)
            b = np.empty(count, dtype=np.int64)
            for j, source in enumerate(a):
                pool = by_genre.get(genres[source][0]) if genres[source] else None
                b[j] = rng.choice(pool) if pool is not None else rng.integers(0, real)
            mixed = 0.8 * vectors[a] + 0.2 * vectors[b] + rng.normal(0, NOISE, (count, 384)).astype(np.float32)
            out_vectors[start : start + count] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
            directors = _long_tail(rng, len(people), count)
            cast = _long_tail(rng, len(people), count * 5).reshape(count, 5)
            for j in range(count):
                i, k = int(a[j]), int(b[j])
                first, second = titles[i].split(), titles[k].split()
                if rng.random() < 0.3 or len(first) < 2 or len(second) < 2:
                    title = f"{titles[i]}: {titles[k]}"
                else:
                    cut = int(rng.integers(1, len(first)))
                    title = " ".join(first[:cut] + second[int(rng.integers(1, len(second))) :])
                key, number = normalise_title(title), 2
                base = title
                while key in seen:
                    title = f"{base} {number}"
                    key, number = normalise_title(title), number + 1
                seen.add(key)
                sentences = list(overviews[i][:4]) + overviews[k][-1:]
                rng.shuffle(sentences)
                tags = list(dict.fromkeys(keywords[i] + keywords[k]))
                tags = (
                    [tags[t] for t in sorted(rng.choice(len(tags), min(len(tags), 6), replace=False))] if tags else []
                )
                year = int(np.clip(years[i] + rng.integers(-8, 9), 1920, 2026))
                writer.writerow([
                    title, year, f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}",
                    languages[i], int(np.clip(runtimes[i] + rng.integers(-15, 16), 60, 240)),
                    "|".join(genres[i]), "|".join(tags), people[directors[j]],
                    "|".join(dict.fromkeys(people[p] for p in cast[j][: int(rng.integers(2, 6))])),
                    " ".join(sentences), "", round(float(rng.lognormal(0.0, 1.5)), 3),
                    round(float(np.clip(votes[i] + rng.normal(0, 0.8), 1, 10)), 1),
                    int(rng.lognormal(4, 2)), SYNTHETIC_TMDB_IDS + start + j,
                ])  # fmt: skip
            log(f"generated {start + count} films")
    out_vectors.flush()
    log(f"wrote {CSV_PATH} ({CSV_PATH.stat().st_size >> 20} MB) and {VECTORS_PATH}")


# -- database steps ------------------------------------------------------------------------------------------


def _setup():
    import django

    django.setup()
    from django.db import connection

    return connection


def configure() -> None:
    """Write SERVER_SETTINGS with ALTER SYSTEM; they take effect when the server restarts (the embedded
    server stops when its last user exits, so the next step starts it with them)."""
    connection = _setup()
    with connection._nodb_cursor() as cursor:
        for name, value in SERVER_SETTINGS.items():
            cursor.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    log(f"server settings written: {SERVER_SETTINGS} (restart to apply)")


def server_cpu() -> float:
    """CPU seconds used so far by the database server of MOVIESITE_PGDATA: its postmaster and every child
    (the importer's two connections, the WAL writer, checkpoints, autovacuum)."""
    import psutil

    pid = int((Path(os.environ["MOVIESITE_PGDATA"]) / "postmaster.pid").read_text().split()[0])
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(sum(process.cpu_times()[:4]) for process in processes)


def fresh_database(name: str) -> None:
    """Database `name` on this server, dropped if it was there, created and migrated (`manage.py migrate`)."""
    connection = _setup()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    env = {**os.environ, "MOVIESITE_DB_NAME": name}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v0"], check=True, env=env)


def import_catalog(batch_size: int | None) -> None:
    connection = _setup()
    fresh_database(DATABASE)
    from catalog.importers.loader import BATCH_SIZE, import_files
    from catalog.search import refresh_lexeme_stats

    batch_size = batch_size or BATCH_SIZE

    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_buffers")
        log(f"shared_buffers = {cursor.fetchone()[0]}")
    server_before, python_before = server_cpu(), time.process_time()
    started = time.perf_counter()
    result = import_files([CSV_PATH], batch_size=batch_size, show_progress=False)
    seconds = time.perf_counter() - started
    log(f"import_files: {result.created} created, {result.updated} updated, {len(result.skipped)} skipped "
        f"in {seconds:.0f} s = {result.created / seconds:.0f} films/s (batch size {batch_size}); CPU: "
        f"{time.process_time() - python_before:.0f} s this process (both threads), "
        f"{server_cpu() - server_before:.0f} s the database server; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for line in result.skipped[:10]:
        log(f"  skipped {line}")
    started = time.perf_counter()
    refresh_lexeme_stats()
    log(f"refresh_lexeme_stats: {time.perf_counter() - started:.0f} s")


def _binary_copy(ids: np.ndarray, vectors: np.ndarray) -> bytes:
    """COPY ... (FORMAT BINARY) rows of (bigint id, vector): pgvector's binary form is int16 dimensions,
    int16 unused, then the float4s, all big-endian."""
    dims = vectors.shape[1]
    row = np.dtype([
        ("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("vec_len", ">i4"), ("dims", ">i2"), ("unused", ">i2"),
        ("values", ">f4", (dims,)),
    ])  # fmt: skip
    rows = np.empty(len(ids), dtype=row)
    rows["fields"], rows["id_len"], rows["id"] = 2, 8, ids
    rows["vec_len"], rows["dims"], rows["unused"], rows["values"] = 4 + 4 * dims, dims, 0, vectors
    return rows.tobytes()


def copy_vectors(cursor, table: str, ids: np.ndarray, vectors: np.ndarray, *, chunk: int = 50_000) -> None:
    """Binary COPY of (id, vector) rows into `table`, `chunk` rows at a time (a memory-mapped array stays on disk)."""
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    with cursor.cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(header)
        for start in range(0, len(vectors), chunk):
            stop = min(start + chunk, len(vectors))
            copy.write(_binary_copy(ids[start:stop], np.asarray(vectors[start:stop])))
        copy.write((-1).to_bytes(2, "big", signed=True))


def load_vectors() -> None:
    connection = _setup()
    from catalog.models import VECTOR_INDEX, Movie

    vectors = np.load(VECTORS_PATH, mmap_mode="r")
    real = np.load(REAL_VECTORS)["tmdb_id"]
    # Row i of the CSV carries tmdb_id real[i] for the real films, SYNTHETIC_TMDB_IDS + i for the others.
    tmdb_ids = np.concatenate([_real_order(real), SYNTHETIC_TMDB_IDS + np.arange(len(real), len(vectors))])
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS vectors_1m")
        cursor.execute("CREATE UNLOGGED TABLE vectors_1m (tmdb_id bigint, embedding vector(384))")
        copy_vectors(cursor, "vectors_1m", tmdb_ids, vectors)
    log(f"binary COPY of {len(vectors)} vectors: {time.perf_counter() - started:.0f} s")
    # As embed_movies does for a bulk write: no HNSW index while a million vectors are written (each insert
    # would walk the graph). The other indexes are dropped too and built once after (each row is updated).
    dropped = [index for index in Movie._meta.indexes if index.name != VECTOR_INDEX]
    with connection.schema_editor() as editor:
        for index in Movie._meta.indexes:
            editor.execute(f"DROP INDEX IF EXISTS {index.name}")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_movie AS m SET embedding = v.embedding, embedding_model = %s, embedding_hash = 'synthetic'"
            " FROM vectors_1m AS v WHERE m.tmdb_id = v.tmdb_id",
            [MODEL],
        )
        log(f"UPDATE of {cursor.rowcount} films' vectors: {time.perf_counter() - started:.0f} s")
        cursor.execute("DROP TABLE vectors_1m")
    started = time.perf_counter()
    with connection.schema_editor() as editor:
        for index in dropped:
            editor.add_index(Movie, index)
    log(f"rebuilt {', '.join(index.name for index in dropped)}: {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) catalog_movie")
    log(f"VACUUM ANALYZE: {time.perf_counter() - started:.0f} s")


def _real_order(real_ids: np.ndarray) -> np.ndarray:
    """The real films' tmdb ids in the CSV's order (TMDB 5000's own row order)."""
    import pandas as pd

    tmdb = pd.read_csv(TMDB, usecols=["id"])
    return tmdb["id"][tmdb["id"].isin(set(real_ids.tolist()))].to_numpy()


def build_index(*, halfvec: bool, m: int, ef_construction: int, maintenance_work_mem: str, name: str | None) -> None:
    """Build the product's HNSW index (the one Movie declares, as embed_movies builds it after a bulk write),
    or with `name` another one of the given storage and parameters, with this `maintenance_work_mem`."""
    connection = _setup()
    from catalog.models import VECTOR_INDEX, Movie

    connection.ensure_connection()
    connection.connection.autocommit = True
    index = next(index for index in Movie._meta.indexes if index.name == VECTOR_INDEX)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {name or VECTOR_INDEX}")
        cursor.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        started = time.perf_counter()
        if name is None:
            with connection.schema_editor() as editor:
                editor.add_index(Movie, index)
            what = f"the product's: {index.deconstruct()[1]} {index.deconstruct()[2]}"
        else:
            column = "(embedding::halfvec(384)) halfvec_cosine_ops" if halfvec else "embedding vector_cosine_ops"
            cursor.execute(
                f"CREATE INDEX {name} ON catalog_movie USING hnsw ({column})"
                f" WITH (m = {m}, ef_construction = {ef_construction})"
            )
            what = f"{'halfvec' if halfvec else 'vector'}, m={m}, ef_construction={ef_construction}"
        seconds = time.perf_counter() - started
        cursor.execute("SELECT pg_size_pretty(pg_relation_size(%s))", [name or VECTOR_INDEX])
        size = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        database = cursor.fetchone()[0]
    log(f"HNSW {name or VECTOR_INDEX} ({what}; maintenance_work_mem={maintenance_work_mem}, 2 parallel workers):"
        f" {seconds:.0f} s, index {size}, database {database}")  # fmt: skip


def main() -> None:
    global DATABASE
    parser = argparse.ArgumentParser()
    choices = ["configure", "real-vectors", "generate", "import", "vectors", "index", "all"]
    parser.add_argument("step", choices=choices)
    parser.add_argument("--films", type=int, default=1_000_000)
    parser.add_argument("--database", default=DATABASE, help="the database's name (the import step drops it first)")
    parser.add_argument("--batch-size", type=int, help="rows per transaction (the importer's default unless given)")
    parser.add_argument("--halfvec", action="store_true")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--name", help="build this index (--halfvec, --m, --ef-construction), not the product's")
    args = parser.parse_args()
    DATABASE = os.environ["MOVIESITE_DB_NAME"] = args.database
    steps = ["generate", "import", "vectors", "index"] if args.step == "all" else [args.step]
    if args.step == "all" and not REAL_VECTORS.exists():
        steps.insert(0, "real-vectors")
    for step in steps:
        if step == "configure":
            configure()
        elif step == "real-vectors":
            embed_real_films()
        elif step == "generate":
            generate(args.films)
        elif step == "import":
            import_catalog(args.batch_size)
        elif step == "vectors":
            load_vectors()
        elif step == "index":
            build_index(
                halfvec=args.halfvec, m=args.m, ef_construction=args.ef_construction,
                maintenance_work_mem=args.maintenance_work_mem, name=args.name,
            )  # fmt: skip


if __name__ == "__main__":
    main()
