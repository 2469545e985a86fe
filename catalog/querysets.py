"""Every read of the catalog: visibility, filters, keyword / semantic / hybrid search and similar films.

The site, the API and the admin all call these verbs, so the search SQL lives here and nowhere else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat
from django.utils.html import escape
from django.utils.safestring import mark_safe
from pgvector.django import CosineDistance

from recommender import encoders
from recommender.ranking import reciprocal_rank_fusion, relative_score_fusion

if TYPE_CHECKING:
    from catalog.models import Movie

# A text search configuration made by migration 0001: English stemming over unaccented words.
SEARCH_CONFIG = "moviesite_english"

SEARCH_MODES = ("hybrid", "keyword", "semantic")
ORDERINGS = {
    "relevance": None,
    "year": ("year", "title"),
    "-year": ("-year", "title"),
    "rating": ("-vote_average", "-vote_count"),
    "popularity": ("-popularity", "-vote_count", "-vote_average"),
    "title": ("title", "year"),
}
# ts_rank weights for D, C, B, A: a title hit counts ten times an overview hit.
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]
# The same for rare-word ranking, where a word in the overview must still count (tuned on the dev sets).
WORD_RANK_WEIGHTS = [0.5, 0.5, 0.8, 1.0]
# A film matching more of the query's words gains more than their sum: "tom hanks" is about Tom Hanks.
COVERAGE_EXPONENT = 1.0
# A word in more than ~5% of the films (IDF below ln 20) does not make a film a candidate on its own.
CANDIDATE_MIN_IDF = 3.0
# Operators of websearch_to_tsquery: a quoted phrase, OR, or a word excluded with a leading minus.
WEBSEARCH_SYNTAX = re.compile(r'"|\bOR\b|(^|\s)-\w')
# Hybrid fusion: each ranking's weight (times 1 - alpha for the lexical ones, alpha for the semantic one), the
# fusion method, and the query length at which the semantic ranking counts in full; tuned on
# benchmarks/search_quality.py's dev sets.
SIGNAL_WEIGHTS = {"keyword": 1.0, "title": 3.0, "semantic": 0.5}
FUSION = "relative_score"
SEMANTIC_FULL_WEIGHT_WORDS = 6
# Trigram evidence is only meaningful for title-length queries; long descriptions are left to the others.
TITLE_QUERY_MAX_WORDS = 12
TRIGRAM_THRESHOLD = 0.25
TITLE_CLOSENESS_POWER = 3
MAX_POOL = 1000


@dataclass
class SearchPage:
    """One page of ranked films (each with `.score`, `.matched` and `.snippet`) and the size of the ranked pool."""

    count: int
    results: list[Movie] = field(default_factory=list)


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

    def for_display(self) -> MovieQuerySet:
        """What lists of films show: credits prefetched, the heavy vector and search columns left behind."""
        return self.with_credits().defer("embedding", "search_vector", "plot")

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
        # value, made the planner's work grow exponentially (issue 17: 20 genres took 17 s to plan).
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

    def refresh_search_text(self) -> int:
        """Recompute the people and tag names that the generated search column reads, in one UPDATE."""
        from catalog.models import Credit, Genre, Keyword

        def joined(queryset, field_name: str, order_by: tuple[str, ...]) -> Coalesce:
            names = queryset.order_by().annotate(names=StringAgg(field_name, " ", order_by=order_by))
            return Coalesce(Subquery(names.values("names")), Value(""), output_field=models.TextField())

        return self.update(
            people_text=joined(
                Credit.objects.filter(movie=OuterRef("pk")).values("movie"), "person__name", ("role", "order")
            ),
            tags_text=Concat(
                joined(Genre.objects.filter(movies=OuterRef("pk")).values("movies"), "name", ("name",)),
                Value(" "),
                joined(Keyword.objects.filter(movies=OuterRef("pk")).values("movies"), "name", ("name",)),
                output_field=models.TextField(),
            ),
        )

    def ordered(self, ordering: str | None = None) -> MovieQuerySet:
        """Order by one of ORDERINGS; without one, browse order: featured films first, then the most popular."""
        if not ORDERINGS.get(ordering or ""):
            return self.order_by("-featured", *[_nulls_last(f) for f in ORDERINGS["popularity"]], "title")
        return self.order_by(*[_nulls_last(f) for f in ORDERINGS[ordering]], "pk")

    # -- the three signals, each a list of (id, score) best first -------------------------------------

    def keyword_scores(self, query: str, *, limit: int) -> list[tuple[int, float]]:
        """Full-text matches, weighted by field: websearch syntax ("quoted phrase", OR, -term) when the query
        uses it, otherwise any of its words, rare words counting more (BM25's idea, see `_weighted_words`)."""
        if WEBSEARCH_SYNTAX.search(query):
            tsquery = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
            rank = SearchRank(F("search_vector"), tsquery, weights=RANK_WEIGHTS, normalization=1)
            qs = self.filter(search_vector=tsquery).annotate(rank=rank)
        else:
            words, weights = _weighted_words(query)
            if not words:
                return []
            # Candidates are the films with one of the rarer words (all words score them): a film sharing only
            # "love" and "story" with the query could not rank anyway, and there are thousands of those.
            rare = [word for word, weight in zip(words, weights, strict=True) if weight >= CANDIDATE_MIN_IDF]
            any_word = " | ".join(f"'{word}'" for word in rare or words)
            rank = RawSQL(
                f"""(SELECT SUM(w.weight * ts_rank(%s::float4[], {self.model._meta.db_table}.search_vector,
                                                   to_tsquery('simple', quote_literal(w.word))))
                            * power(count(*)::float8 / %s, %s)
                     FROM unnest(%s::text[], %s::float8[]) AS w(word, weight)
                     WHERE {self.model._meta.db_table}.search_vector @@ to_tsquery('simple', quote_literal(w.word)))""",
                [WORD_RANK_WEIGHTS, len(words), COVERAGE_EXPONENT, words, weights],
                output_field=models.FloatField(),
            )
            qs = self.filter(search_vector=SearchQuery(any_word, search_type="raw", config="simple")).annotate(
                rank=rank
            )
        ranked = qs.order_by("-rank", _nulls_last("-vote_count"), "pk").values_list("pk", "rank")[:limit]
        return list(ranked)

    def title_scores(self, query: str, *, limit: int) -> list[tuple[int, float]]:
        """Titles close to the query letter by letter (pg_trgm), so typos still find the film. The score is
        the better of the whole title's similarity and the best-matching stretch of it (a partial title)."""
        if len(query.split()) > TITLE_QUERY_MAX_WORDS:
            return []
        qs = (
            self.filter(Q(title__trigram_word_similar=query) | Q(title__trigram_similar=query))
            .annotate(closeness=(TrigramWordSimilarity(query, "title") + TrigramSimilarity("title", query)) / 2)
            .order_by("-closeness", _nulls_last("-vote_count"), "pk")
        )
        # A typo in a short title spoils most of its trigrams: lower pg_trgm's default thresholds (0.3 and
        # 0.6) so such titles are still candidates; the closeness orders them.
        with local_settings(
            {"pg_trgm.similarity_threshold": TRIGRAM_THRESHOLD, "pg_trgm.word_similarity_threshold": TRIGRAM_THRESHOLD}
        ):
            rows = list(qs.values_list("pk", "closeness")[:limit])
        # Raised to a power, a near-exact title stands well clear of titles that merely share a word.
        return [(pk, closeness**TITLE_CLOSENESS_POWER) for pk, closeness in rows]

    def semantic_scores(self, query: str, *, limit: int) -> list[tuple[int, float]]:
        """Films whose vector is nearest the query's, through the HNSW index."""
        return self.nearest(encoders.encode_query(query), model=encoders.get_encoder().name, limit=limit)

    def nearest(self, vector, *, model: str, limit: int, fields: tuple[str, ...] = ("pk",)) -> list[tuple]:
        """The `limit` films whose `model` vectors are nearest `vector` by cosine, through the HNSW index: rows
        of `fields` followed by the cosine similarity, most similar first."""
        qs = self.filter(embedding__isnull=False, embedding_model=model)
        qs = qs.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")
        rows = _with_hnsw_settings(qs.values_list(*fields, "distance")[:limit], ef_search=max(limit, 40))
        return [(*row[:-1], 1.0 - row[-1]) for row in rows]

    # -- search -----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        alpha: float = 0.5,
        limit: int = 20,
        offset: int = 0,
        ordering: str = "relevance",
    ) -> SearchPage:
        """Rank films for `query`; alpha weighs semantic against keyword evidence (0 keyword, 1 semantic).

        An empty query browses: featured films first, then the most popular.
        """
        query = " ".join(query.split())
        if not query:
            qs = self.ordered(ordering)
            page = list(qs.for_display()[offset : offset + limit])
            for movie in page:
                movie.score, movie.matched, movie.snippet = None, [], ""
            return SearchPage(count=qs.count(), results=page)

        pool = min(max(offset + limit, 100), MAX_POOL)
        if mode == "keyword":
            alpha = 0.0
        elif mode == "semantic":
            alpha = 1.0
        rankings: dict[str, list[tuple[int, float]]] = {}
        if alpha < 1:
            rankings["keyword"] = self.keyword_scores(query, limit=pool)
            rankings["title"] = self.title_scores(query, limit=pool)
        if alpha > 0:
            rankings["semantic"] = self.semantic_scores(query, limit=pool)
        weights = {
            name: weight * (alpha if name == "semantic" else 1 - alpha) for name, weight in SIGNAL_WEIGHTS.items()
        }
        if mode == "hybrid":
            # Short queries are titles and names, which meaning barely helps with (a vector of "Holk" is
            # near anything); a described plot is where it shines. Lean on it by the query's length.
            weights["semantic"] *= min(1.0, len(query.split()) / SEMANTIC_FULL_WEIGHT_WORDS)
        fused = (
            relative_score_fusion(rankings, weights, absolute=frozenset({"title"}))
            if FUSION == "relative_score"
            else reciprocal_rank_fusion(rankings, weights)
        )

        keys = [entry.key for entry in fused]
        if ORDERINGS.get(ordering):
            keys = list(self.model.objects.filter(pk__in=keys).ordered(ordering).values_list("pk", flat=True))
        # Only the page being shown is loaded in full.
        page_keys = keys[offset : offset + limit]
        by_id = self.model.objects.for_display().in_bulk(page_keys)
        entries = {entry.key: entry for entry in fused}
        snippets = _snippets([key for key in page_keys if "keyword" in entries[key].signals], query)
        results = []
        for key in page_keys:
            movie = by_id[key]
            movie.score, movie.matched = entries[key].score, entries[key].signals
            movie.snippet = snippets.get(key, "")
            results.append(movie)
        return SearchPage(count=len(keys), results=results)

    def autocomplete(self, query: str, *, limit: int = 10) -> list[Movie]:
        """Titles for a search box: prefix matches first (most voted first), then near-misses by trigram."""
        query = " ".join(query.split())
        if not query:
            return []
        popular = (_nulls_last("-vote_count"), _nulls_last("-popularity"), "title")
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

    def similar_to(
        self,
        movie: Movie,
        *,
        method: str = "knn",
        limit: int = 40,
        C: float = 0.1,
        prior: float | None = None,
    ) -> list[Movie]:
        """The films of this queryset most like `movie` (knn, svm or tfidf), the film itself and its copies
        excluded; each has `.score` (0..1, similarity blended with the quality prior) and `.why`.

        Pass `movie` from `with_details()` so the reasons cost no further queries.
        """
        # The ranking lives with the recommender (the one place that fits models on vectors); imported here,
        # not at the top, because the recommender's own modules import the catalog's models.
        from recommender.similar import similar_films

        return similar_films(movie, method=method, limit=limit, C=C, prior=prior, candidates=self)

    def recommend(
        self,
        *,
        liked: list[int],
        disliked: list[int] = (),
        limit: int = 40,
        method: str = "svm",
        prior: float | None = None,
    ) -> list[Movie]:
        """Films for someone who liked the films `liked` (and not `disliked`), with `.score` and `.why`."""
        from recommender.similar import recommend

        return recommend(liked=liked, disliked=disliked, limit=limit, method=method, prior=prior)


def _weighted_words(query: str) -> tuple[list[str], list[float]]:
    """The query's search lexemes and their BM25 inverse document frequencies, from LexemeStat.

    Words in more than half of the films are dropped (their IDF is about nil, and they would make every film
    a candidate); with no statistics yet, every word weighs the same.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT l.word, COALESCE(s.documents, 0), (SELECT documents FROM catalog_lexemestat WHERE word = '')
               FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS l(word)
               LEFT JOIN catalog_lexemestat s ON s.word = l.word""",
            [SEARCH_CONFIG, query],
        )
        rows = cursor.fetchall()
    words, weights = [], []
    for word, documents, films in rows:
        if "'" in word or "\\" in word:
            continue  # never part of a lexeme the English parser makes; would break the tsquery text
        if not films:
            words.append(word)
            weights.append(1.0)
        elif documents <= films / 2:
            # A word the statistics do not know yet (added since the last import) counts as a rare one.
            documents = max(documents, 1)
            words.append(word)
            weights.append(math.log(1 + (films - documents + 0.5) / (documents + 0.5)))
    return words, weights


# ts_headline marks matches with these; they cannot occur in text, so the text can be escaped around them.
_MARK_START, _MARK_END = "\x02", "\x03"


def _snippets(ids: list[int], query: str) -> dict[int, str]:
    """Why each keyword match matched: its overview (or plot) with the query's words in <mark>, HTML-safe.

    Only for the films on the page, so ts_headline's cost (it re-parses the text) stays small.
    """
    if not ids:
        return {}
    options = f"StartSel={_MARK_START}, StopSel={_MARK_END}, MaxWords=18, MinWords=8, MaxFragments=1"
    with connection.cursor() as cursor:
        cursor.execute(
            """WITH q AS (SELECT replace(plainto_tsquery(%s::regconfig, %s)::text, '&', '|')::tsquery AS any_word)
               SELECT id, ts_headline(%s::regconfig, COALESCE(NULLIF(overview, ''), plot), q.any_word, %s)
               FROM catalog_movie, q WHERE id = ANY(%s) AND search_vector @@ q.any_word""",
            [SEARCH_CONFIG, query, SEARCH_CONFIG, options, ids],
        )
        rows = cursor.fetchall()
    # Escaped first, so the only markup is ours: safe to render as HTML.
    return {
        pk: mark_safe(str(escape(text)).replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>"))
        for pk, text in rows
        if text and _MARK_START in text
    }


def refresh_lexeme_stats() -> None:
    """Recount in how many visible films each lexeme appears (a second or two at 35k films); run after imports."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_lexemestat")
        cursor.execute(
            "INSERT INTO catalog_lexemestat (word, documents) SELECT word, ndoc"
            " FROM ts_stat('SELECT search_vector FROM catalog_movie WHERE NOT hidden') WHERE word <> ''"
        )
        cursor.execute(
            "INSERT INTO catalog_lexemestat (word, documents) SELECT '', count(*) FROM catalog_movie WHERE NOT hidden"
        )


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


def _nulls_last(field_name: str) -> models.OrderBy:
    if field_name.startswith("-"):
        return F(field_name[1:]).desc(nulls_last=True)
    return F(field_name).asc(nulls_last=True)


def _with_hnsw_settings(queryset, *, ef_search: int) -> list:
    """Evaluate a vector-ordered query with enough HNSW candidates for its limit and its filters.

    Iterative scans let a filtered query keep walking the graph until it has `limit` rows instead of
    returning too few. Relaxed order may return neighbours slightly out of order, so rows (ending with their
    distance) are re-sorted.
    """
    with local_settings({"hnsw.ef_search": min(ef_search, 1000), "hnsw.iterative_scan": "relaxed_order"}):
        rows = list(queryset)
    return sorted(rows, key=lambda row: row[-1])


@contextmanager
def local_settings(settings: dict[str, object]) -> Iterator[None]:
    """Postgres settings that last for the queries of this block alone.

    SET LOCAL only lasts until the end of the transaction, so the block runs inside one (its own, or the
    caller's, where the settings then last until that one ends: harmless for these planner, index and
    trigram settings).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(f"SET LOCAL {name} = %s", [value])
        yield
