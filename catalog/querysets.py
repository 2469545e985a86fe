"""The chainable reads of the catalog: visibility, prefetches, filters, orderings, the nearest vectors, and
`search()`, a short call into the search engine (catalog/search.py).

The site, the API and the admin all call these verbs. Similar films and recommendations are not here: they
rank with models fitted on the vectors, in recommender.similar, which the edges (views, API, commands) call.
"""

from __future__ import annotations

import array
import functools
import struct
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection, connections, models
from django.db.models import Exists, OuterRef, Prefetch, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.db.models.query import ModelIterable
from pgvector import HalfVector
from pgvector.django import CosineDistance, HalfVectorField

from catalog import params
from catalog import search as engine
from moviesite.db import and_where, fetch_prepared, local_settings, nulls_last, own_where
from recommender.encoders import DIMENSIONS

if TYPE_CHECKING:
    from catalog.models import Movie

# A film's vector columns: the document's (similar films, the vector space) and the story's (search, which reads
# both in the database); lists and forms never load them.
VECTOR_FIELDS = ("embedding", "story_embedding")
# What a list of films leaves behind besides them: the search column and the long plot.
DISPLAY_DEFERRED = (*VECTOR_FIELDS, "search_vector", "plot")


class MovieQuerySet(models.QuerySet):
    def visible(self) -> MovieQuerySet:
        """Films the public may see."""
        return self.filter(hidden=False)

    def with_credits(self) -> MovieQuerySet:
        """Prefetch what every list of films shows: genres and credits with their people."""
        from catalog.models import Credit

        return self.prefetch_related(
            "genres", Prefetch("credits", queryset=Credit.objects.select_related("person").order_by("role", "order"))
        )

    def with_details(self) -> MovieQuerySet:
        """Everything a film's own page shows (and its similar films' reasons need): credits and keywords."""
        return self.with_credits().prefetch_related("keywords")

    def without_vectors(self) -> MovieQuerySet:
        """The films without their vectors (`VECTOR_FIELDS`, 1.5 KB each): for what never reads them."""
        return self.defer(*VECTOR_FIELDS)

    def for_display(self) -> MovieQuerySet:
        """What lists of films show: credits prefetched, the heavy vector and search columns left behind."""
        return self.with_credits().defer(*DISPLAY_DEFERRED)

    def in_bulk_for_display(
        self, ids: list[int], *, details: bool = False, annotations: Mapping[str, RawSQL | Value] | None = None
    ) -> dict[int, Movie]:
        """`for_display().in_bulk(ids)` in one query instead of three: each film's genres and credits (with their
        people) come as arrays in its own row, ordered as those prefetches order them, and fill the same
        caches, so `movie.genres.all()`, `.credits.all()`, `.directors` and `.cast` read them alike. With
        `details`, what `with_details().without_vectors()` reads, in one query instead of four: every column but
        the vectors, and the keywords too. `annotations` (RawSQL or Value) are read with them, as `annotate()`
        before this call would read them.

        The statement is written out (`_written_in_bulk`) where these films' own filter can be (`own_where`): the
        ORM's building and compiling it, and making its rows films, were two thirds of this method's Python."""
        from catalog.models import Credit, Genre, Keyword, Person

        deferred = VECTOR_FIELDS if details else DISPLAY_DEFERRED
        annotations, rows = annotations or {}, _display_rows(self.model, keywords=details)
        films = _written_in_bulk(self, ids, deferred=deferred, annotations={**annotations, **rows})
        if films is None:
            films = self.annotate(**annotations).defer(*deferred).annotate(**rows).in_bulk(ids)
        for film in films.values():
            film._prefetched_objects_cache = {}
            _fill_cache(film, "genres", [Genre(**row) for row in film.genre_rows or []])
            credits = []
            for row in film.credit_rows or []:
                person = Person(id=row["person_id"], name=row.pop("name"))
                credits.append(Credit(movie=film, person=person, **row))
            _fill_cache(film, "credits", credits)
            del film.genre_rows, film.credit_rows
            if details:
                _fill_cache(film, "keywords", [Keyword(**row) for row in film.keyword_rows or []])
                del film.keyword_rows
        return films

    def filter_by(
        self,
        *,
        genres: list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        director: str = "",
        actor: str = "",
        person: str = "",
        language: str = "",
    ) -> MovieQuerySet:
        """The filters shared by browsing, every search mode and the API."""
        from catalog.models import Credit

        qs = self
        if genres:
            qs = qs.filter(pk__in=_having_all_genres(self.model, genres))
        if year_min is not None:
            qs = qs.filter(year__gte=year_min)
        if year_max is not None:
            qs = qs.filter(year__lte=year_max)
        # One EXISTS per kind of filter, not a join: joins multiply rows (and need a DISTINCT) and, one per
        # value, made the planner's work grow exponentially (issue 17: 20 genres took 17 s to plan). Their
        # credits' queryset is made only for them: it was two thirds of an unfiltered search's call (40 us).
        if director or actor or person:
            credits = Credit.objects.filter(movie=OuterRef("pk"))
            if director:
                qs = qs.filter(Exists(credits.filter(role="director", person__name__icontains=director)))
            if actor:
                qs = qs.filter(Exists(credits.filter(role="cast", person__name__icontains=actor)))
            if person:
                qs = qs.filter(Exists(credits.filter(person__name__icontains=person)))
        if language:
            qs = qs.filter(original_language__iexact=language)
        return qs

    def with_names(self) -> MovieQuerySet:
        """Annotate each film's names in one query, for jobs over many films: `people_names` (credits in
        role and billing order), `genre_names` and `keyword_names` (by name)."""
        from catalog.models import Credit, Genre, Keyword

        def names(queryset: models.QuerySet, field_name: str, order_by: tuple[str, ...]) -> ArraySubquery:
            return ArraySubquery(queryset.order_by(*order_by).values(field_name))

        return self.annotate(
            people_names=names(Credit.objects.filter(movie=OuterRef("pk")), "person__name", ("role", "order")),
            genre_names=names(Genre.objects.filter(movies=OuterRef("pk")), "name", ("name",)),
            keyword_names=names(Keyword.objects.filter(movies=OuterRef("pk")), "name", ("name",)),
        )

    def with_genre_ids(self) -> MovieQuerySet:
        """Annotate each film's genre ids (`genre_ids`, in no order) in the same query: ranking by shared
        genres needs them for hundreds of candidates, which a second query would list again by id."""
        through = self.model.genres.through
        genre_ids = through.objects.filter(movie_id=OuterRef("pk")).values("genre_id")
        return self.annotate(genre_ids=ArraySubquery(genre_ids))

    def for_similar(self) -> MovieQuerySet:
        """A film as its similar films need it, in one query instead of four (`with_details()`): its names
        (`with_names()`, the reasons' genres, keywords and people) and its genre ids (`with_genre_ids()`); not
        the story vector, which only search reads."""
        return self.with_names().with_genre_ids().defer("story_embedding")

    def refresh_search_text(self) -> int:
        """Recompute the people and tag names that the generated search column reads (by the one rule,
        `catalog.models.search_names`), in one UPDATE; returns how many films."""
        from catalog.models import search_names

        rows = self.order_by("pk").with_names().values_list("pk", "people_names", "genre_names", "keyword_names")
        ids, people_texts, tags_texts = [], [], []
        for pk, people, genres, keywords in rows:
            people_text, tags_text = search_names(people=people, genres=genres, keywords=keywords)
            ids.append(pk)
            people_texts.append(people_text)
            tags_texts.append(tags_text)
        if ids:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {self.model._meta.db_table} AS m SET people_text = u.p, tags_text = u.t"
                    " FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(id, p, t) WHERE m.id = u.id",
                    [ids, people_texts, tags_texts],
                )
        return len(ids)

    def ordered(self, ordering: str | None = None) -> MovieQuerySet:
        """Order by one of params.ORDERINGS; without one, browse order: featured films first, then the most
        popular."""
        fields = params.ORDERINGS.get(ordering or "")
        if not fields:
            return self.order_by("-featured", *[nulls_last(f) for f in params.ORDERINGS["popularity"]], "title")
        return self.order_by(*[nulls_last(f) for f in fields], "pk")

    def nearest(
        self, vector, *, model: str, limit: int, fields: tuple[str, ...] = ("pk",), story: bool = False
    ) -> list[tuple]:
        """The `limit` films whose `model` vectors are nearest `vector` by cosine, through the HNSW index: rows
        of `fields` followed by the cosine similarity, most similar first. With `story`, the story vectors
        (search's; a film without one is read by its document vector, see `indexed_story`)."""
        where = own_where(self) if fields == ("pk",) else None
        if where is not None:
            sql, params = _nearest_sql(self.model, where, vector, embedding_model=model, limit=limit, story=story)
            return _similarities(lambda: fetch_prepared(sql, params, using=self.db), limit=limit, using=self.db)
        qs = self.filter(embedding__isnull=False, embedding_model=model)
        # The very expression of the index (half precision), so the planner walks it; see `indexed_embedding`.
        indexed = indexed_story() if story else indexed_embedding()
        qs = qs.annotate(distance=CosineDistance(indexed, HalfVector(vector))).order_by("distance")
        query = qs.values_list(*fields, "distance")[:limit]
        return _similarities(lambda: list(query), limit=limit, using=query.db)

    def nearest_story_or_document(self, vector, *, model: str, limit: int) -> list[tuple[int, float]]:
        """Semantic mode's films: the `limit` nearest by story vector and the `limit` nearest by document vector
        (each through its HNSW index), every film once with the greater of the cosines read for it, most similar
        first. One statement holding both index walks where the films' filter can be written out (as `nearest`
        writes it), else two."""
        where = own_where(self)
        if where is None:
            rows = [
                *self.nearest(vector, model=model, limit=limit, story=True),
                *self.nearest(vector, model=model, limit=limit),
            ]
        else:
            parts = [
                _nearest_sql(self.model, where, vector, embedding_model=model, limit=limit, story=story)
                for story in (True, False)
            ]
            sql = " UNION ALL ".join(f"({part})" for part, _ in parts)
            params = [*parts[0][1], *parts[1][1]]
            rows = _similarities(lambda: fetch_prepared(sql, params, using=self.db), limit=limit, using=self.db)
        best: dict[int, float] = {}
        for pk, similarity in rows:
            if similarity > best.get(pk, -2.0):
                best[pk] = similarity
        return sorted(best.items(), key=lambda row: -row[1])

    def search(self, query: str, **options) -> engine.SearchPage:
        """Rank these films for `query` (see catalog.search.search for the options): keyword, semantic or
        hybrid; each result has `.score`, `.matched` and `.snippet`. An empty query browses."""
        return engine.search(self, query, **options)

    def autocomplete(self, query: str, *, limit: int = params.AUTOCOMPLETE_LIMIT) -> list[Movie]:
        """Titles for a search box: prefix matches first (most voted first), then near-misses by trigram."""
        query = " ".join(query.split())
        if not query:
            return []
        popular = (nulls_last("-vote_count"), nulls_last("-popularity"), "title")
        found = list(self.filter(title__istartswith=query).order_by(*popular)[:limit])
        if len(found) < limit:
            near = (
                self.filter(title__trigram_word_similar=query)
                .exclude(pk__in=[movie.pk for movie in found])
                .annotate(word_sim=TrigramWordSimilarity(query, "title"))
                .order_by("-word_sim", *popular)
            )
            found.extend(near[: limit - len(found)])
        return found


@functools.cache
def _display_rows(model: type[Movie], *, keywords: bool = False) -> Mapping[str, RawSQL]:
    """A film's genres (by name) and credits with their people's names (by role and billing order), and with
    `keywords` its keywords (by name), as arrays of JSON objects, for `in_bulk_for_display`. Written out, not
    built with ArraySubquery and JSONObject: the SQL is the same, and building and compiling those expressions
    cost 0.9 ms of Python per page of 20 films. Each array comes as one JSON value (to_jsonb), decoded at once,
    not as an array whose every object Django decoded on its own. Made once (read-only: the ORM copies an
    expression it is given)."""
    from catalog.models import Credit, Person

    movie = model._meta.db_table
    credits, people = Credit._meta.db_table, Person._meta.db_table
    rows = models.JSONField()

    def tags(relation: str) -> RawSQL:
        # Genres and keywords: NamedTag rows, by name as their Meta orders them.
        field = model._meta.get_field(relation)
        table, through = field.related_model._meta.db_table, field.remote_field.through._meta.db_table
        column = field.m2m_reverse_name()
        return RawSQL(
            f"""to_jsonb(ARRAY(SELECT jsonb_build_object('id', t.id, 'name', t.name, 'slug', t.slug)
                               FROM {table} t JOIN {through} mt ON mt.{column} = t.id
                               WHERE mt.movie_id = {movie}.id ORDER BY t.name))""",
            [],
            output_field=rows,
        )

    annotations = {
        "genre_rows": tags("genres"),
        "credit_rows": RawSQL(
            f"""to_jsonb(ARRAY(SELECT jsonb_build_object('id', c.id, 'person_id', c.person_id, 'role', c.role,
                                                         'order', c."order", 'character', c.character,
                                                         'name', p.name)
                               FROM {credits} c JOIN {people} p ON p.id = c.person_id
                               WHERE c.movie_id = {movie}.id ORDER BY c.role, c."order"))""",
            [],
            output_field=rows,
        ),
    }
    if keywords:
        annotations["keyword_rows"] = tags("keywords")
    return MappingProxyType(annotations)


def _written_in_bulk(
    films: MovieQuerySet, ids: list[int], *, deferred: tuple[str, ...], annotations: Mapping[str, RawSQL | Value]
) -> dict[int, Movie] | None:
    """`films.defer(*deferred).annotate(**annotations).in_bulk(ids)`, its statement written out as the ORM writes
    it (a test compares the two) and its rows made films as the ORM makes them (`Model.from_db`, each column's
    converters, the annotations as attributes); None where the ORM must build it: a filter that cannot be
    written out (`own_where`: a join, an annotation...), an ordering of its own, only(), select_related(),
    prefetches, values(), a related manager's films."""
    query = films.query
    names, defers = query.deferred_loading
    if not ids:
        return {}
    if (
        not defers
        or query.order_by
        or not query.default_ordering
        or query.select_related
        or query.select_for_update
        or films._prefetch_related_lookups
        or films._known_related_objects
        or films._iterable_class is not ModelIterable
    ):
        return None
    shape = _in_bulk_shape(films.model, frozenset(names) | frozenset(deferred), tuple(annotations.items()))
    where = own_where(films) if shape is not None else None
    if where is None:
        return None
    model, connection_ = films.model, connections[films.db]
    table = connection_.ops.quote_name(model._meta.db_table)
    pk = f"{table}.{connection_.ops.quote_name(model._meta.pk.column)}"
    ids = list(dict.fromkeys(ids))  # as the ORM's IN lookup keeps them: once each, in order
    condition = and_where(where, f"{pk} IN ({', '.join(['%s'] * len(ids))})")
    params = [*shape.params, *where[1], *(model._meta.pk.get_db_prep_value(key, connection_) for key in ids)]
    sql = f"SELECT {shape.select} FROM {table} WHERE {condition}{shape.order_by}"
    loaded, width = shape.field_names, len(shape.field_names)
    films_by_id = {}
    for row in fetch_prepared(sql, params, using=films.db):
        values = list(row)
        for position, converters, expression in shape.converters:
            for converter in converters:
                values[position] = converter(values[position], expression, connection_)
        film = model.from_db(films.db, loaded, values[:width])
        for name, value in zip(shape.annotation_names, values[width:], strict=True):
            setattr(film, name, value)
        films_by_id[film.pk] = film
    return films_by_id


class _InBulkShape(NamedTuple):
    select: str  # the columns and the annotations, as the ORM writes them
    params: list[object]  # the annotations' parameters
    order_by: str  # the model's default ordering (" ORDER BY ..."), or ""
    # The columns' attribute names, for Model.from_db: a set, which it asks of each of the model's fields.
    field_names: frozenset[str]
    annotation_names: list[str]
    converters: list[tuple[int, list, object]]  # (position, converters, expression) of the columns that have any


def _in_bulk_shape(
    model: type[Movie], deferred: frozenset[str], annotations: tuple[tuple[str, RawSQL | Value], ...]
) -> _InBulkShape | None:
    """What `_written_in_bulk` writes for these columns and annotations, or None when it cannot write it as the
    ORM does: an annotation that is not RawSQL or Value, or an ordering other than by the model's own fields."""
    if not all(type(expression) in (RawSQL, Value) for _, expression in annotations):
        return None
    columns = _loaded_columns(model, deferred)
    if columns is None:
        return None
    select, order_by, field_names, converters = columns
    parts, params, converters = [select], [], list(converters)
    for position, (name, expression) in enumerate(annotations, start=len(field_names)):
        # Neither kind reads its compiler (RawSQL writes its text in parentheses, Value a placeholder or NULL).
        sql, expression_params = expression.as_sql(None, connection)
        parts.append(f"{sql} AS {connection.ops.quote_name(name)}")
        params.extend(expression_params)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            converters.append((position, found, expression))
    names = [name for name, _ in annotations]
    return _InBulkShape(", ".join(parts), params, order_by, field_names, names, converters)


@functools.cache
def _loaded_columns(model: type[Movie], deferred: frozenset[str]) -> tuple[str, str, frozenset[str], list] | None:
    """The model's columns but `deferred`, as the ORM writes the select list, its default ordering (" ORDER BY
    ...", as the ORM writes it), the loaded fields' attribute names and their columns' converters (position,
    converters, column); None for an ordering other than by the model's own columns."""
    quote = connection.ops.quote_name
    table = model._meta.db_table
    fields = [
        field
        for field in model._meta.concrete_fields
        if field.primary_key or (field.name not in deferred and field.attname not in deferred)
    ]
    order_by = []
    for name in model._meta.ordering:
        if not isinstance(name, str) or "__" in name or name.lstrip("-") in ("?", "pk"):
            return None
        field = model._meta.get_field(name.lstrip("-"))
        if not field.concrete or field.is_relation:
            return None
        order_by.append(f"{quote(table)}.{quote(field.column)} {'DESC' if name.startswith('-') else 'ASC'}")
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((position, found, column))
    select = ", ".join(f"{quote(table)}.{quote(field.column)}" for field in fields)
    ordering = f" ORDER BY {', '.join(order_by)}" if order_by else ""
    return select, ordering, frozenset(field.attname for field in fields), converters


def prefetched(movie: Movie, relation: str) -> models.QuerySet:
    """`movie.<relation>.all()`: the rows a prefetch (or `in_bulk_for_display`) left, read without making the
    related manager that would hand them over (a many-to-many one costs more to make than a film's genres to
    read, and a serializer asks every film of a page); the manager's own queryset when nothing is prefetched."""
    cache = getattr(movie, "_prefetched_objects_cache", None)
    if cache is not None and relation in cache:
        return cache[relation]
    return getattr(movie, relation).all()


def _fill_cache(movie: Movie, relation: str, rows: list) -> None:
    """Give `movie.<relation>.all()` these rows, as prefetch_related() would have.

    The queryset is the one the film's related manager would make (`movie.<relation>.all()`: the related
    model's queryset, the film as routing hint, the relation's filter), built without the manager: making one
    per film and relation, and cloning a queryset to add the filter, was a third of a page's Python. The filter
    waits, as Django's related managers leave it (QuerySet._defer_next_filter), until something chains on the
    queryset, which then reads this film's rows only (a test compares the SQL with the manager's).
    """
    field = movie._meta.get_field(relation)
    queryset = field.related_model._default_manager.get_queryset()
    queryset._add_hints(instance=movie)
    if field.many_to_many:
        # A forward many-to-many (genres, keywords): filtered through the reverse name, sticky so that a chained
        # filter reuses the join, as ManyRelatedManager._apply_rel_filters makes it.
        queryset.query.filter_is_sticky = True
        lookup = {f"{field.related_query_name()}__{movie._meta.pk.name}": movie.pk}
    else:
        # A reverse foreign key (credits): RelatedManager._apply_rel_filters, which also knows the film.
        lookup = {field.field.name: movie}
        queryset._known_related_objects = {field.field: {movie.pk: movie}}
    queryset._deferred_filter = (False, (), lookup)
    # The very attributes Django's prefetch sets (django.db.models.query.prefetch_one_level).
    queryset._result_cache, queryset._prefetch_done = rows, True
    movie._prefetched_objects_cache[relation] = queryset


def _having_all_genres(model, genres: list[str]) -> RawSQL:
    """Ids of the films that have every one of `genres` (each a slug or a name in any case), as one subquery
    whatever their number."""
    wanted = sorted(set(genres))
    through = model.genres.through._meta.db_table
    genre_table = model.genres.field.related_model._meta.db_table
    return RawSQL(
        f"""SELECT mg.movie_id FROM {through} mg JOIN {genre_table} g ON g.id = mg.genre_id
            JOIN unnest(%s::text[]) AS w(value) ON g.slug = w.value OR upper(g.name) = upper(w.value)
            GROUP BY mg.movie_id HAVING count(DISTINCT w.value) = %s""",
        [wanted, len(wanted)],
    )


# The fewest HNSW candidates a vector query walks. At 1M films the halfvec index finds 0.944 of the exact 40
# nearest with 100 candidates and 0.973 with 200, for ~0.3 ms more (benchmarks/RESULTS.md, "A million films").
MIN_EF_SEARCH = 200


def indexed_embedding() -> Cast:
    """The film vector as the HNSW index holds it: half precision (halfvec). The column keeps float32 (the
    vector space and the SVM read it); the index, which must sit in memory for fast scans, is 57 % the size
    (1,116 against 1,953 MB at 1M films). It finds fewer of the exact nearest at a small ef_search (0.944
    against 0.976 at 100, 1M films), hence MIN_EF_SEARCH (benchmarks/RESULTS.md, "A million films")."""
    return Cast("embedding", HalfVectorField(dimensions=DIMENSIONS))


def indexed_story() -> Cast:
    """The vector semantic search reads, as its HNSW index holds it: the story vector (no names), or the
    document vector where there is none, because both texts are the same (no credits) or the story is not
    embedded yet (after the migration, until `embed_movies`). Both are written by one model in one UPDATE,
    so `embedding_model` vouches for either."""
    return Cast(Coalesce("story_embedding", "embedding"), HalfVectorField(dimensions=DIMENSIONS))


def _nearest_sql(
    model: type[Movie], where: tuple[str, list[object]], vector, *, embedding_model: str, limit: int, story: bool
) -> tuple[str, list[object]]:
    """`nearest`'s statement written out: what the ORM makes of it for films whose own filter is `where`
    (`moviesite.db.own_where`), the same text (a test compares
    them), without building and compiling the query on every search (half a millisecond of Python)."""
    table = connection.ops.quote_name(model._meta.db_table)
    vectors = f'COALESCE({table}."story_embedding", {table}."embedding")' if story else f'{table}."embedding"'
    condition = and_where(where, f'{table}."embedding" IS NOT NULL', f'{table}."embedding_model" = %s')
    sql = (
        f'SELECT {table}."id" AS "pk", (({vectors})::halfvec({DIMENSIONS}) <=> %s) AS "distance"'
        f" FROM {table} WHERE {condition} ORDER BY 2 ASC LIMIT {int(limit)}"
    )
    return sql, [half_vector_text(vector), *where[1], embedding_model]


def half_vector_text(vector) -> str:
    """The text HalfVectorField gives Postgres for `vector` (pgvector's HalfVector(vector).to_text(): each component
    rounded to half precision, then written as Python writes that float), each half-precision value's words
    looked up (`_half_words`): writing 384 floats was 0.13 ms of every encoded search's Python, this 0.02."""
    if not isinstance(vector, list):
        return HalfVectorField(dimensions=len(vector)).get_prep_value(HalfVector(vector))
    words = _half_words()
    halves = array.array("H", struct.pack(f"{len(vector)}e", *vector))  # as HalfVector packs a list
    return f"[{','.join([words[half] for half in halves])}]"


@functools.cache
def _half_words() -> list[str]:
    """How Python writes each of the 65,536 half-precision floats, by their bits (once a process: 20 ms, 4.7 MB)."""
    every = array.array("H", range(2**16))
    return [str(value) for value in struct.unpack(f"{len(every)}e", every.tobytes())]


def _similarities(read: Callable[[], list], *, limit: int, using: str) -> list[tuple]:
    """The rows of a vector-ordered query (`read()`, on the database `using`, each row ending with its cosine
    distance), read with enough HNSW candidates for its `limit` and its filters, nearest first, each row ending
    with its cosine similarity instead.

    Iterative scans let a filtered query keep walking the graph until it has `limit` rows instead of
    returning too few. Relaxed order may return neighbours slightly out of order, so rows are re-sorted.
    """
    ef_search = max(limit, MIN_EF_SEARCH)
    settings = {"hnsw.ef_search": min(ef_search, 1000), "hnsw.iterative_scan": "relaxed_order"}
    with local_settings(settings, using=using):
        rows = read()
    return [(*row[:-1], 1.0 - row[-1]) for row in sorted(rows, key=lambda row: row[-1])]
