"""Attacks by concurrency (issue 17): two imports of the same file at once, in real processes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from catalog.models import Movie

MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]
FILMS = 120


def write_catalog_without_ids(path) -> None:
    """The demo catalog's format, retitled (so nothing matches the films already there), ids left empty:
    only title and year can match a film, the case that duplicated."""
    with open(settings.BASE_DIR / "fixtures" / "demo_movies.csv", newline="") as source:
        rows = list(csv.DictReader(source))[:FILMS]
    with open(path, "w", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]))
        writer.writeheader()
        for number, row in enumerate(rows):
            writer.writerow({**row, "title": f"Concurrent Film {number}", "imdb_id": "", "tmdb_id": ""})


def command_env() -> dict[str, str]:
    env = {**os.environ, "DEBUG": "1", "EMBEDDING_BACKEND": "fake"}
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "moviesite.db_backends.embedded":
        env["MOVIESITE_PGDATA"] = database["PGDATA"]
        env["MOVIESITE_DB_NAME"] = connection.settings_dict["NAME"]  # this run's test database
    else:
        pytest.skip("needs the embedded server's test database")
    return env


def wait_for_lock_waiters(count: int, *, timeout: float = 120.0) -> None:
    """Until `count` sessions wait for the catalog's write lock (pg_locks' advisory locks not granted)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, f"{count} imports never waited for the catalog's write lock"
            time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_a_file_without_ids_at_once_never_duplicate_a_film(tmp_path):
    path = tmp_path / "no_ids.csv"
    write_catalog_without_ids(path)
    from moviesite.locks import catalog_writes

    command = [*MANAGE, "import_movies", str(path), "--no-embed", "--batch-size", "10"]
    # Both runs start while this test holds the lock, so they are surely at once: on a loaded machine the first
    # could otherwise finish before the second had started, and nothing would have been tested.
    with catalog_writes():
        runs = [
            subprocess.Popen(command, env=command_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        wait_for_lock_waiters(2)
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "Traceback" not in err
    films = Movie.objects.filter(title__startswith="Concurrent Film ")
    assert films.count() == FILMS
    assert not films.values("title", "year").annotate(n=Count("pk")).filter(n__gt=1).exists()
    created = sorted(int(out.split("Total: ")[1].split(" created")[0]) for out, _ in outputs)
    assert created == [0, FILMS]  # one run created them all, the other waited and found them
    assert all("waits for it to finish" in err for _, err in outputs)


@pytest.mark.django_db(transaction=True)
def test_a_second_run_with_no_wait_exits_with_a_message_and_no_traceback(tmp_path):
    from moviesite.locks import catalog_writes

    path = tmp_path / "no_ids.csv"
    write_catalog_without_ids(path)
    with catalog_writes():  # this test holds the lock, as a running import would
        result = subprocess.run(
            [*MANAGE, "import_movies", str(path), "--no-embed", "--no-wait"],
            env=command_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        embed = subprocess.run(
            [*MANAGE, "embed_movies", "--backend", "fake", "--no-wait"],
            env=command_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1 and "Another import_movies or embed_movies run" in result.stderr
    assert embed.returncode == 1 and "Another import_movies or embed_movies run" in embed.stderr
    assert "Traceback" not in result.stderr + embed.stderr
    assert not Movie.objects.filter(title__startswith="Concurrent Film ").exists()
