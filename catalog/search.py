"""The search engine: three signals (keyword, title trigram, semantic), their fusion, the snippets that say
why a film matched, and the lexeme statistics that weigh rare words.

`MovieQuerySet.search()` is a short call into `search()` here, as djangoproject.com keeps `docs/search.py`
beside its `DocumentQuerySet.search`. Each signal reads the films of the queryset it is given, so filters and
visibility are applied once, by the caller's chain. The tuning constants were measured on
benchmarks/search_quality.py's dev sets (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import mark_safe
from rapidfuzz.distance import OSA

from catalog import params, ranker
from moviesite.db import local_settings, nulls_last, reading
from recommender import encoders

if TYPE_CHECKING:
    from catalog.models import Movie
    from catalog.querysets import MovieQuerySet

# A text search configuration made by migration 0001: English stemming over unaccented words. The film's
# generated search column (catalog.models.Movie.search_vector) is built with it.
SEARCH_CONFIG = "moviesite_english"
# ts_rank weights for D, C, B, A: a title hit counts ten times an overview hit.
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]
# The same for rare-word ranking, where a word in the overview must still count (tuned on the dev sets).
WORD_RANK_WEIGHTS = [0.5, 0.5, 0.8, 1.0]
# A film matching more of the query's words gains more than their sum: "tom hanks" is about Tom Hanks.
COVERAGE_EXPONENT = 1.0
# A word in more than ~5% of the films (IDF below ln 20) does not make a film a candidate on its own.
CANDIDATE_MIN_IDF = 3.0
# A pasted blurb of 1,000 characters has ~150 words; only its rarest ones are scored, so keyword search
# costs the same for any query length (the embedding model likewise reads only the first 256 word pieces).
MAX_SCORED_WORDS = 32
# Operators of websearch_to_tsquery: a quoted phrase, OR, or a word excluded with a leading minus.
WEBSEARCH_SYNTAX = re.compile(r'"|\bOR\b|(^|\s)-\w')
# Hybrid fusion: each ranking's weight (times 1 - alpha for the lexical ones, alpha for the semantic one), and
# the query length at which the semantic ranking counts in full.
SIGNAL_WEIGHTS = {"keyword": 1.0, "title": 3.0, "semantic": 0.5}
SEMANTIC_FULL_WEIGHT_WORDS = 6
# Trigram evidence is only meaningful for title-length queries; long descriptions are left to the others.
TITLE_QUERY_MAX_WORDS = 12
TRIGRAM_THRESHOLD = 0.25
TITLE_CLOSENESS_POWER = 3
# The title-first path (see `title_first`), measured on the dev sets of benchmarks/search_quality.py.
TITLE_FIRST = True
TITLE_FIRST_MAX_WORDS = 6
TITLE_FIRST_MIN_CLOSENESS = 0.8
TITLE_FIRST_LEAD = 0.1
# A title this many letter edits from the query is a typo of it (two: "godfater" -> "godfather" is one).
MAX_TITLE_EDITS = 2
# Every signal ranks at least this many films, so a page's fusion sees more than the page.
MIN_POOL = 100
RRF_K = 60


@dataclass
class SearchPage:
    """One page of ranked films (each with `.score`, `.matched` and `.snippet`) and the size of the ranked pool."""

    count: int
    results: list[Movie] = field(default_factory=list)


def search(
    films: MovieQuerySet,
    query: str,
    *,
    mode: str = params.DEFAULT_MODE,
    alpha: float = params.DEFAULT_ALPHA,
    limit: int = params.SEARCH_LIMIT,
    offset: int = 0,
    ordering: str = params.DEFAULT_ORDERING,
    fusion: str = "relative_score",
) -> SearchPage:
    """Rank `films` for `query`; alpha weighs semantic against keyword evidence (0 keyword, 1 semantic).

    An empty query browses: featured films first, then the most popular. `fusion` ("relative_score" or
    "rrf") is there for benchmarks/search_quality.py, which compares the two.
    """
    query = " ".join(query.split())
    if not query:
        qs = films.ordered(ordering)
        page = list(qs.for_display()[offset : offset + limit])
        for movie in page:
            movie.score, movie.matched, movie.snippet = None, [], ""
        return SearchPage(count=qs.count(), results=page)

    pool = min(max(offset + limit, MIN_POOL), params.SEARCH_DEPTH)
    rankings = signals(films, query, mode=mode, alpha=alpha, pool=pool)
    fused = fuse(rankings, query, mode=mode, alpha=alpha, fusion=fusion, priors=priors_of(films.model, rankings))

    keys = [entry.key for entry in fused]
    Movie = films.model
    if params.ORDERINGS.get(ordering):
        keys = list(Movie.objects.filter(pk__in=keys).ordered(ordering).values_list("pk", flat=True))
    # Only the page being shown is loaded in full.
    page_keys = keys[offset : offset + limit]
    by_id = Movie.objects.for_display().in_bulk(page_keys)
    entries = {entry.key: entry for entry in fused}
    found = snippets([key for key in page_keys if "keyword" in entries[key].signals], query)
    results = []
    for key in page_keys:
        movie = by_id[key]
        movie.score, movie.matched = entries[key].score, entries[key].signals
        movie.snippet = found.get(key, "")
        results.append(movie)
    return SearchPage(count=len(keys), results=results)


def signals(
    films: MovieQuerySet, query: str, *, mode: str, alpha: float, pool: int
) -> dict[str, list[tuple[int, float]]]:
    """Each signal's ranking of `films` for `query` (the lexical ones unless semantic-only, the semantic one
    unless keyword-only), `pool` films deep."""
    alpha = mode_alpha(mode, alpha)
    rankings: dict[str, list[tuple[int, float]]] = {}
    if alpha < 1:
        rankings["keyword"] = keyword_scores(films, query, limit=pool)
        rankings["title"] = title_scores(films, query, limit=pool)
    if alpha > 0:
        rankings["semantic"] = semantic_scores(films, query, limit=pool)
    return rankings


def mode_alpha(mode: str, alpha: float) -> float:
    return 0.0 if mode == "keyword" else 1.0 if mode == "semantic" else alpha


def priors_of(model: type[Movie], rankings: Rankings) -> dict[int, float]:
    """How many votes each candidate film has: people look for films they have heard of."""
    keys = {key for ranking in rankings.values() for key, _ in ranking}
    if not keys or ranker.current() is None:
        return {}
    return dict(model.objects.filter(pk__in=keys).values_list("pk", "vote_count"))


def fuse(
    rankings: Rankings,
    query: str,
    *,
    mode: str,
    alpha: float,
    fusion: str = "relative_score",
    priors: Mapping[int, float] | None = None,
) -> list[Fused]:
    """One ranking from the signals' rankings (a pure function: benchmarks/search_quality.py calls it on
    cached signals). The learned ranker (catalog/ranker.py) when its weights load, else hand-set weights."""
    alpha = mode_alpha(mode, alpha)
    model = ranker.current() if fusion == "relative_score" else None
    if model is not None and model.covers(mode, alpha, query):
        fused = model.rank(rankings, query, mode=mode, alpha=alpha, priors=priors or {})
    else:
        fused = hand_fusion(rankings, query, mode=mode, alpha=alpha, fusion=fusion)
    return title_first(fused, rankings.get("title") or [], query) if TITLE_FIRST else fused


def title_first(fused: list[Fused], titles: Sequence[tuple[int, float]], query: str) -> list[Fused]:
    """A short query whose closeness to one title clearly stands out (a typo or two away, the next title well
    behind) is that film: it goes first, whatever the other signals say."""
    if len(query.split()) > TITLE_FIRST_MAX_WORDS or not titles:
        return fused
    closeness = sorted((score ** (1 / TITLE_CLOSENESS_POWER) for _, score in titles), reverse=True)
    best, runner_up = closeness[0], closeness[1] if len(closeness) > 1 else 0.0
    if best < TITLE_FIRST_MIN_CLOSENESS or best - runner_up < TITLE_FIRST_LEAD:
        return fused
    key = max(titles, key=lambda row: row[1])[0]
    first = [entry for entry in fused if entry.key == key]
    return first + [entry for entry in fused if entry.key != key] if first else fused


def hand_fusion(
    rankings: Rankings, query: str, *, mode: str, alpha: float, fusion: str = "relative_score"
) -> list[Fused]:
    """The fusion with hand-set weights (SIGNAL_WEIGHTS): the fallback, and the learned ranker's first feature."""
    alpha = mode_alpha(mode, alpha)
    weights = {name: weight * (alpha if name == "semantic" else 1 - alpha) for name, weight in SIGNAL_WEIGHTS.items()}
    if mode == "hybrid":
        # Short queries are titles and names, which meaning barely helps with (a vector of "Holk" is
        # near anything); a described plot is where it shines. Lean on it by the query's length.
        weights["semantic"] *= min(1.0, len(query.split()) / SEMANTIC_FULL_WEIGHT_WORDS)
    if fusion == "relative_score":
        return relative_score_fusion(rankings, weights, absolute=frozenset({"title"}))
    return reciprocal_rank_fusion(rankings, weights)


# -- the three signals, each a list of (id, score) best first -----------------------------------------------


def keyword_scores(films: MovieQuerySet, query: str, *, limit: int) -> list[tuple[int, float]]:
    """Full-text matches, weighted by field: websearch syntax ("quoted phrase", OR, -term) when the query
    uses it, otherwise any of its words, rare words counting more (BM25's idea, see `weighted_words`)."""
    if WEBSEARCH_SYNTAX.search(query):
        tsquery = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        rank = SearchRank(F("search_vector"), tsquery, weights=RANK_WEIGHTS, normalization=1)
        qs = films.filter(search_vector=tsquery).annotate(rank=rank)
    else:
        words, weights = weighted_words(query)
        if not words:
            return []
        # Candidates are the films with one of the rarer words (all words score them): a film sharing only
        # "love" and "story" with the query could not rank anyway, and there are thousands of those.
        rare = [word for word, weight in zip(words, weights, strict=True) if weight >= CANDIDATE_MIN_IDF]
        any_word = " | ".join(f"'{word}'" for word in rare or words)
        table = films.model._meta.db_table
        rank = RawSQL(
            f"""(SELECT SUM(w.weight * ts_rank(%s::float4[], {table}.search_vector,
                                               to_tsquery('simple', quote_literal(w.word))))
                        * power(count(*)::float8 / %s, %s)
                 FROM unnest(%s::text[], %s::float8[]) AS w(word, weight)
                 WHERE {table}.search_vector @@ to_tsquery('simple', quote_literal(w.word)))""",
            [WORD_RANK_WEIGHTS, len(words), COVERAGE_EXPONENT, words, weights],
            output_field=models.FloatField(),
        )
        qs = films.filter(search_vector=SearchQuery(any_word, search_type="raw", config="simple")).annotate(rank=rank)
    ranked = qs.order_by("-rank", nulls_last("-vote_count"), "pk").values_list("pk", "rank")[:limit]
    return list(ranked)


def title_scores(films: MovieQuerySet, query: str, *, limit: int) -> list[tuple[int, float]]:
    """Titles close to the query letter by letter (pg_trgm), so typos still find the film. The score is
    the better of the whole title's similarity and the best-matching stretch of it (a partial title)."""
    if len(query.split()) > TITLE_QUERY_MAX_WORDS:
        return []
    qs = (
        films.filter(Q(title__trigram_word_similar=query) | Q(title__trigram_similar=query))
        .annotate(closeness=(TrigramWordSimilarity(query, "title") + TrigramSimilarity("title", query)) / 2)
        .order_by("-closeness", nulls_last("-vote_count"), "pk")
    )
    # A typo in a short title spoils most of its trigrams: lower pg_trgm's default thresholds (0.3 and
    # 0.6) so such titles are still candidates; the closeness orders them.
    thresholds = {
        "pg_trgm.similarity_threshold": TRIGRAM_THRESHOLD,
        "pg_trgm.word_similarity_threshold": TRIGRAM_THRESHOLD,
    }
    with local_settings(thresholds, using=qs.db):
        rows = list(qs.values_list("pk", "closeness", "title")[:limit])
    # Trigrams forgive a typo poorly in a short title ("The Reck" shares more of them with "The Reef" than with
    # "The Rock"); one or two edits of the whole title is what a typo is, so the closer of the two counts.
    from catalog.models import normalise_title  # the importer's title folding (models import this module)

    folded = normalise_title(query)
    scored = [(pk, max(closeness, edit_closeness(folded, normalise_title(title)))) for pk, closeness, title in rows]
    scored.sort(key=lambda row: -row[1])  # a stable sort: ties keep the more voted film first
    # Raised to a power, a near-exact title stands well clear of titles that merely share a word.
    return [(pk, closeness**TITLE_CLOSENESS_POWER) for pk, closeness in scored]


def edit_closeness(query: str, title: str) -> float:
    """1 - edits / length when `query` is `title` with at most MAX_TITLE_EDITS edits (a letter deleted, added,
    replaced, or two neighbours swapped: optimal string alignment), else 0."""
    if abs(len(query) - len(title)) > MAX_TITLE_EDITS or min(len(query), len(title)) < 3:
        return 0.0
    distance = OSA.distance(query, title, score_cutoff=MAX_TITLE_EDITS)
    return 1 - distance / max(len(query), len(title)) if distance <= MAX_TITLE_EDITS else 0.0


def semantic_scores(films: MovieQuerySet, query: str, *, limit: int) -> list[tuple[int, float]]:
    """Films whose story vector (no names, see `Movie.story`) is nearest the query's, through its HNSW index."""
    return films.nearest(encoders.encode_query(query), model=encoders.get_encoder().name, limit=limit, story=True)


def weighted_words(query: str) -> tuple[list[str], list[float]]:
    """The query's search lexemes and their BM25 inverse document frequencies, from LexemeStat; at most
    MAX_SCORED_WORDS of them, the rarest.

    Words in more than half of the films are dropped (their IDF is about nil, and they would make every film
    a candidate); with no statistics yet, every word weighs the same.
    """
    from catalog.models import LexemeStat

    with reading(LexemeStat).cursor() as cursor:
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
    if len(words) > MAX_SCORED_WORDS:
        # The rarest words, in the order the query's lexemes came (a stable sort keeps ties in that order).
        keep = sorted(sorted(range(len(words)), key=lambda i: -weights[i])[:MAX_SCORED_WORDS])
        words, weights = [words[i] for i in keep], [weights[i] for i in keep]
    return words, weights


# -- fusion of ranked lists (pure functions): each list is [(id, score)] best first --------------------------

Rankings = Mapping[str, Sequence[tuple[int, float]]]


@dataclass
class Fused:
    key: int
    score: float
    signals: list[str] = field(default_factory=list)


def reciprocal_rank_fusion(rankings: Rankings, weights: Mapping[str, float], *, k: int = RRF_K) -> list[Fused]:
    """Score each id by sum(weight / (k + rank)) over the lists it appears in; best first.

    Scores are divided by the best score a film could reach (rank 1 in every list), so they fall in 0..1.
    """
    return _fuse(rankings, weights, lambda rank, score, scores, ranking: 1 / (k + rank), best=1 / (k + 1))


def relative_score_fusion(
    rankings: Rankings, weights: Mapping[str, float], *, absolute: frozenset[str] = frozenset()
) -> list[Fused]:
    """Sum each list's scores rescaled to 0..1 (its best 1, its worst 0), times the list's weight; the lists
    named in `absolute` already score on a fixed 0..1 scale and keep it (a weak best match stays weak).

    Unlike ranks, scores keep a signal's confidence: a film far ahead on one signal stays ahead after fusion.
    """
    absolute_lists = {id(rankings[name]) for name in absolute if name in rankings}

    def rescaled(rank: int, score: float, scores: Sequence[float], ranking) -> float:
        if id(ranking) in absolute_lists:
            return min(max(score, 0.0), 1.0)
        low, high = min(scores), max(scores)
        return (score - low) / (high - low) if high > low else 1.0

    return _fuse(rankings, weights, rescaled, best=1.0)


def _fuse(rankings: Rankings, weights: Mapping[str, float], contribution: Callable, *, best: float) -> list[Fused]:
    total_weight = sum(weights.get(name, 0.0) for name, ranking in rankings.items() if ranking) or 1.0
    fused: dict[int, Fused] = {}
    # Heaviest list first, so ties keep its order and `signals` lists the strongest evidence first.
    for name in sorted(rankings, key=lambda n: -weights.get(n, 0.0)):
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        scores = [score for _, score in rankings[name]]
        for rank, (key, score) in enumerate(rankings[name], start=1):
            entry = fused.setdefault(key, Fused(key=key, score=0.0))
            entry.score += weight * contribution(rank, score, scores, rankings[name])
            entry.signals.append(name)
    results = sorted(fused.values(), key=lambda f: -f.score)
    for entry in results:
        entry.score = round(entry.score / (total_weight * best), 6)
    return results


# -- why a film matched -------------------------------------------------------------------------------------

# ts_headline marks matches with these; they cannot occur in text, so the text can be escaped around them.
_MARK_START, _MARK_END = "\x02", "\x03"


def snippets(ids: list[int], query: str) -> dict[int, str]:
    """Why each keyword match matched: its overview (or plot) with the query's words in <mark>, HTML-safe.

    Only for the films on the page, so ts_headline's cost (it re-parses the text) stays small.
    """
    if not ids:
        return {}
    from catalog.models import Movie

    options = f"StartSel={_MARK_START}, StopSel={_MARK_END}, MaxWords=18, MinWords=8, MaxFragments=1"
    with reading(Movie).cursor() as cursor:
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


# -- statistics -------------------------------------------------------------------------------------------


def refresh_lexeme_stats() -> None:
    """Recount in how many visible films each lexeme appears (a second or two at 35k films); run after imports
    (catalog.changes.catalog_imported does)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_lexemestat")
        cursor.execute(
            "INSERT INTO catalog_lexemestat (word, documents) SELECT word, ndoc"
            " FROM ts_stat('SELECT search_vector FROM catalog_movie WHERE NOT hidden') WHERE word <> ''"
        )
        cursor.execute(
            "INSERT INTO catalog_lexemestat (word, documents) SELECT '', count(*) FROM catalog_movie WHERE NOT hidden"
        )
