"""TF-IDF vectors of the films' words and word pairs (Karpathy's other feature space): offline, cheap, and
explainable, because every dimension is a term a person can read.

The vectorizer is fitted on the whole catalog after each import (a few seconds at 35k films) and its
vocabulary kept in the database, so a film added later can be placed in the same space; each film keeps
only its strongest terms, which bounds the sparse vector's size without changing who its neighbours are.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TextIO

import numpy as np
from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector import SparseVector
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer, strip_accents_unicode

from catalog.models import Movie
from moviesite.progress import progress
from recommender.models import FilmFeatures, TfidfVocabulary

MAX_TERMS = 50_000
TERMS_PER_FILM = 256
WRITE_BATCH = 2000
TEXT_FIELDS = ("title", "original_title", "tagline", "overview", "plot")
NAME_FIELDS = ("genres", "keywords", "people")


@dataclass
class TfidfResult:
    films: int = 0
    terms: int = 0
    elapsed: float = 0.0


# Words and word pairs of the text; each name (genre, keyword, person) one term of its own, so pairs never
# straddle two names ("duvall diane").
_text_terms = CountVectorizer(ngram_range=(1, 2), stop_words="english", strip_accents="unicode").build_analyzer()
_NAMES = "\x1f"


def _terms(document: str) -> list[str]:
    text, _, names = document.partition(_NAMES)
    return _text_terms(text) + names.split()


def _vectorizer(vocabulary: list[str] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=_terms,
        min_df=2,
        max_df=0.5,
        max_features=MAX_TERMS,
        sublinear_tf=True,
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def film_text(values: dict) -> str:
    """The words a film is known by: titles, what it is about, then its genres, keywords and people."""
    names = [
        re.sub(r"\W+", "_", strip_accents_unicode(name).casefold().strip())
        for field in NAME_FIELDS
        for name in values.get(field) or ()
    ]
    return "\n".join(values.get(field) or "" for field in TEXT_FIELDS) + _NAMES + " ".join(names)


def term_label(term: str) -> str:
    return term.replace("_", " ")


def _catalog_texts(movies: QuerySet[Movie] | None = None) -> list[tuple[int, str]]:
    """Every film's text (or these films'), names gathered in the same query (no per-film queries at 35k)."""
    movies = Movie.objects.all() if movies is None else movies
    rows = movies.order_by("pk").with_names().values("pk", *TEXT_FIELDS, "people_names", "genre_names", "keyword_names")
    return [
        (
            row["pk"],
            film_text(
                {**row, "genres": row["genre_names"], "keywords": row["keyword_names"], "people": row["people_names"]}
            ),
        )
        for row in rows
    ]


def _film_values(movie: Movie) -> dict:
    """The same values for one film (prefetched relations, e.g. from `with_details()`, cost no queries)."""
    return {
        **{field: getattr(movie, field) for field in TEXT_FIELDS},
        "genres": [genre.name for genre in movie.genres.all()],
        "keywords": [keyword.name for keyword in movie.keywords.all()],
        "people": [credit.person.name for credit in movie.credits.all()],
    }


def fit_tfidf(*, stdout: TextIO | None = None, show_progress: bool = True) -> TfidfResult:
    """Fit the vocabulary on every film and keep each film's vector (hidden films too, so unhiding is free)."""
    started = time.monotonic()
    rows = _catalog_texts()
    result = TfidfResult(films=len(rows))
    if len(rows) < 2:  # min_df=2 needs at least two documents
        return result
    vectorizer = _vectorizer()
    matrix = vectorizer.fit_transform(text for _, text in rows).tocsr()
    terms = vectorizer.get_feature_names_out().tolist()
    result.terms = len(terms)
    bar = progress(total=len(rows), desc="TF-IDF vectors", file=stdout, enabled=show_progress)
    with transaction.atomic():
        TfidfVocabulary.objects.all().delete()
        TfidfVocabulary.objects.create(terms=terms, idf=vectorizer.idf_.tolist(), documents=len(rows))
        for start in range(0, len(rows), WRITE_BATCH):
            batch = rows[start : start + WRITE_BATCH]
            _store([pk for pk, _ in batch], matrix[start : start + len(batch)], len(terms))
            bar.update(len(batch))
    bar.close()
    _cached.clear()
    result.elapsed = time.monotonic() - started
    return result


def refresh_tfidf(movie_ids: list[int]) -> int:
    """Place these films again with the stored vocabulary, after their text changed (an edit, a merge);
    returns how many. The vocabulary itself waits for the next fit (after the next import)."""
    fitted = _fitted()
    if fitted is None or not movie_ids:
        return 0
    rows = _catalog_texts(Movie.objects.filter(pk__in=movie_ids))
    if rows:
        matrix = fitted.vectorizer.transform(text for _, text in rows).tocsr()
        _store([pk for pk, _ in rows], matrix, len(fitted.terms))
    return len(rows)


def _store(ids: list[int], matrix: sparse.csr_matrix, dimensions: int) -> None:
    texts = [_sparse_text(matrix[i], dimensions) for i in range(len(ids))]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO recommender_filmfeatures (movie_id, tfidf)"
            " SELECT id, tfidf::sparsevec FROM unnest(%s::bigint[], %s::text[]) AS v(id, tfidf)"
            " ON CONFLICT (movie_id) DO UPDATE SET tfidf = EXCLUDED.tfidf",
            [ids, texts],
        )


def tfidf_of(movie: Movie) -> SparseVector | None:
    """The film's stored vector, or one made now with the stored vocabulary (a film added since the fit).

    Read again rather than taken from `movie`, which may have been loaded before the latest fit.
    """
    stored = FilmFeatures.objects.filter(movie_id=movie.pk).values_list("tfidf", flat=True).first()
    if stored is not None:
        return stored
    fitted = _fitted()
    if fitted is None:
        return None
    row = fitted.vectorizer.transform([film_text(_film_values(movie))]).tocsr()
    if not row.nnz:
        return None
    return SparseVector.from_text(_sparse_text(row, len(fitted.terms)))


def vocabulary() -> list[str]:
    """The fitted terms, dimension by dimension (empty before the first fit)."""
    fitted = _fitted()
    return fitted.terms if fitted else []


def shared_terms(seed: SparseVector, other: SparseVector, terms: list[str], *, count: int = 5) -> list[str]:
    """The terms that make two films alike: those with the largest product of their two weights."""
    left = dict(zip(seed.indices(), seed.values(), strict=True))
    products = [(weight * left[i], i) for i, weight in zip(other.indices(), other.values(), strict=True) if i in left]
    products.sort(reverse=True)
    return [term_label(terms[i]) for _, i in products[:count] if i < len(terms)]


def _sparse_text(row: sparse.csr_matrix, dimensions: int) -> str:
    """pgvector's text form of a row, kept to its strongest terms and normalised again."""
    indices, values = row.indices, row.data
    if len(values) > TERMS_PER_FILM:
        strongest = np.argpartition(values, -TERMS_PER_FILM)[-TERMS_PER_FILM:]
        indices, values = indices[strongest], values[strongest]
    norm = float(np.linalg.norm(values)) or 1.0
    order = np.argsort(indices)
    pairs = ",".join(f"{indices[i] + 1}:{values[i] / norm:.6g}" for i in order)  # pgvector counts from 1
    return f"{{{pairs}}}/{dimensions}"


@dataclass(frozen=True)
class _Fitted:
    fitted_at: object
    terms: list[str]
    vectorizer: TfidfVectorizer


_cached: dict[str, _Fitted] = {}
_lock = threading.Lock()


def _fitted() -> _Fitted | None:
    """The stored vocabulary as a ready vectorizer, loaded once per process and again after a new fit."""
    fitted_at = TfidfVocabulary.objects.values_list("fitted_at", flat=True).first()
    if fitted_at is None:
        return None
    current = _cached.get("vocabulary")
    if current is not None and current.fitted_at == fitted_at:
        return current
    with _lock:
        vocabulary = TfidfVocabulary.objects.first()
        if vocabulary is None:
            return None
        vectorizer = _vectorizer(vocabulary.terms)
        vectorizer.idf_ = np.asarray(vocabulary.idf, dtype=np.float32)
        current = _cached["vocabulary"] = _Fitted(vocabulary.fitted_at, vocabulary.terms, vectorizer)
    return current
