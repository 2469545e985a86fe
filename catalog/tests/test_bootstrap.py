from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import LexemeStat, Movie
from catalog.search import FIELD_LENGTH_WORDS

pytestmark = pytest.mark.django_db


def test_bootstrap_keeps_an_existing_catalog_fills_missing_statistics_and_creates_one_admin():
    films = Movie.objects.count()
    LexemeStat.objects.all().delete()
    out = io.StringIO()

    call_command("bootstrap", stdout=out)

    assert f"Catalog has {films} films; demo catalog not loaded." in out.getvalue()
    assert LexemeStat.objects.get(word="").documents == Movie.objects.visible().count()
    assert "Admin login created (shown once): admin / " in out.getvalue()
    assert get_user_model().objects.filter(is_superuser=True).count() == 1

    again = io.StringIO()
    call_command("bootstrap", stdout=again)
    assert "Admin login" not in again.getvalue()


def test_bootstrap_adds_field_lengths_to_statistics_kept_before_them():
    LexemeStat.objects.filter(word__in=FIELD_LENGTH_WORDS.values()).delete()

    call_command("bootstrap", stdout=io.StringIO())

    assert LexemeStat.objects.filter(word__in=FIELD_LENGTH_WORDS.values()).count() == len(FIELD_LENGTH_WORDS)
    assert LexemeStat.objects.get(word=FIELD_LENGTH_WORDS["D"]).documents > 0
