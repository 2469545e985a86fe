"""The vector space and the catalog version it is loaded for: every write to the films bumps the version,
and the in-memory matrix reloads only then."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import Movie
from catalog.tests.helpers import make_movie
from recommender.space import catalog_version, vector_space

pytestmark = pytest.mark.django_db


def film(title: str) -> Movie:
    return Movie.objects.with_details().get(title=title)


def test_every_kind_of_write_to_the_film_table_bumps_the_catalog_version():
    version = catalog_version()
    movie = make_movie(title="New")
    assert catalog_version() > version
    version = catalog_version()
    Movie.objects.filter(pk=movie.pk).update(featured=True)
    assert catalog_version() > version
    version = catalog_version()
    movie.delete()
    assert catalog_version() > version


def test_the_vector_space_reloads_only_when_the_catalog_changes():
    seed = film("Heat")
    space = vector_space(seed.embedding_model)
    assert vector_space(seed.embedding_model) is space
    assert np.allclose(np.linalg.norm(space.vectors, axis=1), 1.0, atol=1e-5)
    Movie.objects.filter(pk=seed.pk).update(hidden=True)
    reloaded = vector_space(seed.embedding_model)
    assert reloaded is not space
    assert seed.pk not in reloaded.ids and seed.pk in space.ids
