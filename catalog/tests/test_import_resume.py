"""An import killed at any moment (kill -9 or Ctrl-C) is finished by a re-run: no duplicates, no half films."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from catalog.models import Credit, Movie

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 20_000
HEADER = ["title", "year", "genres", "keywords", "directors", "cast", "overview", "tmdb_id"]


def write_catalog(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(ROWS):
            writer.writerow(
                [f"Resume Film {i:05d}", 1950 + i % 70, "Drama|Mystery", f"clue {i % 97}|harbour",
                 f"Director {i % 300}", f"Actor {i % 500}|Actor {(i + 7) % 500}",
                 f"Film number {i} follows a keeper of lighthouse {i % 41}.", 90_000_000 + i]
            )  # fmt: skip
    return path


def start_import(path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "1",
        "MOVIESITE_PGDATA": settings.DATABASES["default"].get("PGDATA", ""),
        "MOVIESITE_DB_NAME": connection.settings_dict["NAME"],
    }
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "import_movies", str(path), "--no-embed"]
    return subprocess.Popen(
        [*command, "--batch-size", "100"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def films() -> int:
    return Movie.objects.filter(title__startswith="Resume Film").count()


def interrupt_midway(process: subprocess.Popen, sig: int) -> int:
    deadline = time.monotonic() + 120
    while films() < 1000 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(sig)
    process.wait(timeout=60)
    return films()


def assert_complete_without_duplicates() -> None:
    resumed = Movie.objects.filter(title__startswith="Resume Film")
    assert resumed.count() == resumed.values("title").distinct().count() == ROWS
    # Every film is whole: its genres, its director and its two cast members, and its search text.
    assert not resumed.annotate(g=Count("genres", distinct=True)).exclude(g=2).exists()
    assert Credit.objects.filter(movie__in=resumed, role="director").count() == ROWS
    assert Credit.objects.filter(movie__in=resumed, role="cast").count() == 2 * ROWS
    assert not resumed.filter(people_text="").exists()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill -9", "ctrl-c"])
def test_an_interrupted_import_is_completed_by_a_rerun(tmp_path, sig):
    path = write_catalog(tmp_path / "big.csv")
    process = start_import(path)
    partial = interrupt_midway(process, sig)
    assert process.returncode != 0
    assert 0 < partial < ROWS, "the import was not interrupted midway; make it longer"
    assert partial % 100 == 0  # only whole batches were committed

    out = io.StringIO()
    call_command("import_movies", path, no_embed=True, stdout=out, stderr=io.StringIO())
    assert f"{ROWS - partial} created" in out.getvalue()
    assert_complete_without_duplicates()
