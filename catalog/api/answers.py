"""Whole API answers kept by catalog version (issue 16): a film's facts, its similar films and searches.

An anonymous client asking for plain JSON gets the same answer as every other anonymous client, so the answer
is kept (moviesite.models.CachedAnswer, an UNLOGGED table every worker shares) under a hash of the request's
validated parameters, for the catalog version it was computed at. Any change of the films, their features or
the co-liked lists bumps that version (statement triggers, recommender migrations 0001 and 0003), so a kept
answer is never served after a change: the next request computes it again. A hit is one statement, which
reads the version and the answer together (two with replicas: the version where the catalog is read, the
answer on the primary, since an UNLOGGED table is not replicated).

Never kept: answers to a signed-in user or a token (they may differ by who asks), to any other media type than
plain JSON (the browsable API, `indent`), and anything but a 200. The throttle has counted the request before
the view runs, so cached answers count like the others. A deploy runs `migrate`, which empties the table
(moviesite.apps), so new code never serves an old answer.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpResponse, QueryDict
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.serializers import SimilarMovieSerializer, SimilarParamsSerializer
from moviesite.db import fetch_prepared, reading
from moviesite.models import CachedAnswer
from recommender.models import CatalogVersion
from recommender.similar import similar_films

JSON = "application/json"
# One store in this many also forgets answers of older versions and the oldest beyond MAX_ANSWERS (distinct
# searches could otherwise grow the table without bound).
SWEEP_EVERY = 100
MAX_ANSWERS = 20_000

ANSWER = CachedAnswer._meta.db_table
VERSION = CatalogVersion._meta.db_table
# The version and the kept answer in one statement (the version row is there even when the answer is not).
LOOKUP_SQL = f"""
    SELECT v.version, a.body FROM {VERSION} v
    LEFT JOIN {ANSWER} a ON a.key = %s AND a.catalog_version = v.version
    WHERE v.id = 1"""
VERSION_SQL = f"SELECT version FROM {VERSION} WHERE id = 1"
BODY_SQL = f"SELECT body FROM {ANSWER} WHERE key = %s AND catalog_version = %s"
STORE_SQL = f"""
    INSERT INTO {ANSWER} (key, catalog_version, body, stored_at) VALUES (%s, %s, %s, %s)
    ON CONFLICT (key) DO UPDATE SET catalog_version = EXCLUDED.catalog_version, body = EXCLUDED.body,
        stored_at = EXCLUDED.stored_at"""
SWEEP_SQL = f"""
    DELETE FROM {ANSWER} WHERE catalog_version < %s
        OR key IN (SELECT key FROM {ANSWER} ORDER BY stored_at DESC OFFSET %s)"""


def cacheable(request: Request) -> bool:
    """An anonymous request for plain JSON: its answer is the same for everyone who asks it."""
    if request.auth is not None or request.user.is_authenticated:
        return False
    return getattr(request, "accepted_media_type", None) == JSON


def answer_key(kind: str, params: dict) -> str:
    """The kept answer's key: the kind of answer, its validated parameters (so `?limit=10&method=knn` and
    `?method=knn&limit=010` are one answer) and the settings that shape answers."""
    shaping = [settings.EMBEDDING_BACKEND, settings.OPENAI_EMBEDDING_MODEL, settings.SIMILAR_PRIOR_WEIGHT]
    text = json.dumps([kind, params, shaping], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def kept_answer(request: Request, kind: str, params: dict, compute: Callable[[], Response]) -> HttpResponse:
    """The answer to `request`, from the kept answers when it can be, else from `compute()` (then kept)."""
    if not cacheable(request):
        return compute()
    key = answer_key(kind, params)
    version, body = _lookup(key)
    if body is not None:
        return HttpResponse(bytes(body), content_type=JSON)
    response = compute()
    if response.status_code != 200 or version is None:
        return response
    body = JSONRenderer().render(response.data)
    _store(key, version, body)
    return HttpResponse(body, content_type=JSON)


def _lookup(key: str) -> tuple[int | None, bytes | None]:
    """(current catalog version, the answer kept for it or None); version None if there is none yet."""
    catalog = reading(CatalogVersion)
    if catalog.alias == DEFAULT_DB_ALIAS:
        rows = fetch_prepared(LOOKUP_SQL, [key])
        return (rows[0][0], rows[0][1]) if rows else (None, None)
    # Replicas: the version of the catalog this request reads, the answer from the primary.
    version = _current_version()
    if version is None:
        return None, None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(BODY_SQL, [key, version])
        kept = cursor.fetchone()
    return version, kept[0] if kept else None


def _current_version() -> int | None:
    """The catalog version where this request reads the catalog (None before the first is written)."""
    with reading(CatalogVersion).cursor() as cursor:
        cursor.execute(VERSION_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


def _store(key: str, version: int, body: bytes) -> None:
    """Keep the answer under the version read before computing it: a change committed meanwhile leaves it
    stale at once, never a stale answer under a new version."""
    fetch_prepared(STORE_SQL, [key, version, body, int(time.time())])
    if random.randrange(SWEEP_EVERY) == 0:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(SWEEP_SQL, [version, MAX_ANSWERS])


def similar_answer(movie, params: dict) -> dict:
    """The body of `/api/movies/{id}/similar/` for this film and these validated parameters."""
    return {"results": SimilarMovieSerializer(similar_films(movie, **params), many=True).data}


def keep_similar_answers(movies: list) -> int:
    """Compute and keep the default similar-films answer (`/api/movies/{id}/similar/` without parameters) of
    each of `movies` not kept for the current catalog version yet, as the API would; returns how many.

    For `manage.py keep_answers`: a site whose films' pages were all visited once has them all kept.
    """
    params = SimilarParamsSerializer(data=QueryDict())
    params.is_valid(raise_exception=True)
    defaults = dict(params.validated_data)
    keys = {movie.pk: answer_key("similar", {"pk": movie.pk, **defaults}) for movie in movies}
    version = _current_version()
    if version is None:
        return 0
    kept = set(
        CachedAnswer.objects.filter(key__in=list(keys.values()), catalog_version=version).values_list("key", flat=True)
    )
    computed = 0
    for movie in movies:
        if keys[movie.pk] in kept:
            continue
        _store(keys[movie.pk], version, JSONRenderer().render(similar_answer(movie, defaults)))
        computed += 1
    return computed
