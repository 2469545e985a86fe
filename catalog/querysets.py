"""Every read of the catalog: visibility, filters, keyword / semantic / hybrid search and similar films.

The site, the API and the admin all call these verbs, so the search SQL lives here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, models, transaction
from django.db.models import F, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce, Concat
from pgvector.django import CosineDistance

from recommender import encoders
from recommender.ranking import reciprocal_rank_fusion

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
# Trigram evidence is only meaningful for title-length queries; long descriptions are left to the others.
TITLE_QUERY_MAX_WORDS = 8
MAX_POOL = 1000


@dataclass
class SearchPage:
    """One page of ranked films (each with `.score` and `.matched`) and the size of the ranked pool."""

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
        qs = self
        for genre in genres or []:
            qs = qs.filter(Q(genres__slug=genre) | Q(genres__name__iexact=genre))
        if year_min is not None:
            qs = qs.filter(year__gte=year_min)
        if year_max is not None:
            qs = qs.filter(year__lte=year_max)
        if director:
            qs = qs.filter(credits__role="director", credits__person__name__icontains=director)
        if actor:
            qs = qs.filter(credits__role="cast", credits__person__name__icontains=actor)
        if person:
            qs = qs.filter(credits__person__name__icontains=person)
        if language:
            qs = qs.filter(original_language__iexact=language)
        if genres or director or actor or person:
            qs = qs.distinct()
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

    # -- the three signals, each a list of ids best first ---------------------------------------------

    def keyword_ids(self, query: str, *, limit: int) -> list[int]:
        """Full-text matches (websearch syntax: "quoted phrase", OR, -term), weighted by field."""
        tsquery = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        rank = SearchRank(F("search_vector"), tsquery, weights=RANK_WEIGHTS, normalization=1)
        qs = self.filter(search_vector=tsquery).annotate(rank=rank)
        return list(qs.order_by("-rank", _nulls_last("-vote_count"), "pk").values_list("pk", flat=True)[:limit])

    def title_ids(self, query: str, *, limit: int) -> list[int]:
        """Titles close to the query letter by letter (pg_trgm), so typos still find the film."""
        if len(query.split()) > TITLE_QUERY_MAX_WORDS:
            return []
        qs = self.filter(title__trigram_word_similar=query).annotate(
            word_sim=TrigramWordSimilarity(query, "title"), sim=TrigramSimilarity("title", query)
        )
        order = ("-word_sim", "-sim", _nulls_last("-vote_count"), "pk")
        return list(qs.order_by(*order).values_list("pk", flat=True)[:limit])

    def semantic_ids(self, query: str, *, limit: int) -> list[int]:
        """Films whose vector is nearest the query's, through the HNSW index."""
        encoder = encoders.get_encoder()
        vector = encoders.encode_query(query)
        qs = self.filter(embedding__isnull=False, embedding_model=encoder.name)
        qs = qs.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")
        rows = _with_hnsw_settings(qs.values_list("pk", "distance")[:limit], ef_search=max(limit, 40))
        return [pk for pk, _ in rows]

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
                movie.score, movie.matched = None, []
            return SearchPage(count=qs.count(), results=page)

        pool = min(max(offset + limit, 100), MAX_POOL)
        if mode == "keyword":
            alpha = 0.0
        elif mode == "semantic":
            alpha = 1.0
        rankings: dict[str, list[int]] = {}
        if alpha < 1:
            rankings["keyword"] = self.keyword_ids(query, limit=pool)
            rankings["title"] = self.title_ids(query, limit=pool)
        if alpha > 0:
            rankings["semantic"] = self.semantic_ids(query, limit=pool)
        weights = {"keyword": 1 - alpha, "title": 1 - alpha, "semantic": alpha}
        fused = reciprocal_rank_fusion(rankings, weights)

        keys = [entry.key for entry in fused]
        if ORDERINGS.get(ordering):
            keys = list(self.model.objects.filter(pk__in=keys).ordered(ordering).values_list("pk", flat=True))
        # Only the page being shown is loaded in full.
        page_keys = keys[offset : offset + limit]
        by_id = self.model.objects.for_display().in_bulk(page_keys)
        entries = {entry.key: entry for entry in fused}
        results = []
        for key in page_keys:
            movie = by_id[key]
            movie.score, movie.matched = entries[key].score, entries[key].signals
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

    def similar_to(self, movie: Movie, *, limit: int = 40) -> list[Movie]:
        """The films nearest `movie` by cosine distance (score = similarity), the film itself excluded."""
        if movie.embedding is None:
            return []
        qs = (
            self.visible()
            .exclude(pk=movie.pk)
            .filter(embedding__isnull=False, embedding_model=movie.embedding_model)
            .annotate(distance=CosineDistance("embedding", movie.embedding))
            .order_by("distance")
        )
        ids = _with_hnsw_settings(qs.values_list("pk", "distance")[:limit], ef_search=max(limit, 40))
        by_id = self.model.objects.for_display().prefetch_related("keywords").in_bulk([pk for pk, _ in ids])
        results = []
        for pk, distance in ids:
            film = by_id[pk]
            film.score = round(1.0 - distance, 6)
            results.append(film)
        return results


def _nulls_last(field_name: str) -> models.OrderBy:
    if field_name.startswith("-"):
        return F(field_name[1:]).desc(nulls_last=True)
    return F(field_name).asc(nulls_last=True)


def _with_hnsw_settings(queryset, *, ef_search: int) -> list:
    """Evaluate a vector-ordered query with enough HNSW candidates for its limit and its filters.

    SET LOCAL only lasts until the end of the transaction, so it must run inside one; iterative scans let a
    filtered query keep walking the graph until it has `limit` rows instead of returning too few. Relaxed
    order may return neighbours slightly out of order, so rows (ending with their distance) are re-sorted.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [min(ef_search, 1000)])
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        return sorted(queryset, key=lambda row: row[-1])
