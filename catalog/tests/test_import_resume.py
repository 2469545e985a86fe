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
        [*command, "--batch-size", "100"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=answer_ctrl_c,
    )


def answer_ctrl_c() -> None:
    """Ctrl-C reaches the import as it does from a terminal. A suite started in the background by a shell
    without job control (`make test &`) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    handler: the import would run on to the end (three fresh clones' CI, tenth round)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
    # If it ran on to the end anyway: what it said, and how far it got.
    said = process.stderr.read().decode(errors="replace")[-3000:] if process.stderr else ""
    assert process.returncode != 0, f"exit 0 with {partial} films imported; the import said:\n{said}"
    assert 0 < partial < ROWS, "the import was not interrupted midway; make it longer"
    assert partial % 100 == 0  # only whole batches were committed

    out = io.StringIO()
    call_command("import_movies", path, no_embed=True, stdout=out, stderr=io.StringIO())
    assert f"{ROWS - partial} created" in out.getvalue()
    assert_complete_without_duplicates()


def write_rows(path: Path, rows: list[list]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*HEADER, "tagline"])
        writer.writerows(rows)
    return path


def test_outside_a_transaction_the_writer_thread_gives_what_one_thread_gives(tmp_path):
    """Outside a transaction each batch is written by a second thread while the next one is matched: a film
    met again in a later batch (same title and year) is enriched, not duplicated, and counted once."""
    from catalog.importers.loader import import_files

    path = write_rows(tmp_path / "threads.csv", [
        ["Thread Film One", 1990, "Drama", "loom", "Ada Weft", "Bo Warp", "One.", 91_000_001, ""],
        ["Thread Film Two", 1991, "Drama", "loom", "Ada Weft", "Cy Warp", "Two.", 91_000_002, ""],
        ["Thread Film Three", 1992, "Comedy", "shuttle", "Di Weft", "Bo Warp", "Three.", 91_000_003, ""],
        ["Thread Film One", 1990, "Mystery", "bobbin", "", "", "", "", "Woven twice."],
        ["Thread Film Four", 1993, "Drama", "loom", "Ada Weft", "Ed Warp", "Four.", 91_000_004, ""],
    ])  # fmt: skip
    assert not connection.in_atomic_block
    result = import_files([path], batch_size=2, show_progress=False)
    assert (result.created, result.updated) == (4, 1)
    one = Movie.objects.get(title="Thread Film One")
    assert one.tagline == "Woven twice."
    assert sorted(one.genres.values_list("name", flat=True)) == ["Drama", "Mystery"]
    assert "bobbin" in one.tags_text
    assert Movie.objects.filter(title__startswith="Thread Film").count() == 4


def test_a_batch_that_fails_in_the_writer_thread_stops_the_import_with_its_error(tmp_path, monkeypatch):
    from catalog.importers import loader

    rows = [[f"Failing Film {i}", 2000 + i, "Drama", "", "", "", "Text.", 92_000_000 + i, ""] for i in range(6)]
    path = write_rows(tmp_path / "failing.csv", rows)
    real, calls = loader._link_related, []

    def fails_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "_link_related", fails_on_the_second_batch)
    with pytest.raises(RuntimeError, match="disk on fire"):
        loader.import_files([path], batch_size=2, show_progress=False)
    # The first batch was committed whole; the failed one left nothing; no later batch was written.
    assert sorted(Movie.objects.filter(title__startswith="Failing Film").values_list("title", flat=True)) == [
        "Failing Film 0",
        "Failing Film 1",
    ]
