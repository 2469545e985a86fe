"""The search engine: three signals (keyword, title trigram, semantic), their fusion, the snippets that say
why a film matched, and the lexeme statistics that weigh rare words.

`MovieQuerySet.search()` is a short call into `search()` here, as djangoproject.com keeps `docs/search.py`
beside its `DocumentQuerySet.search`. Each signal reads the films of the queryset it is given, so filters and
visibility are applied once, by the caller's chain. The tuning constants were measured on
benchmarks/search_quality.py's dev sets (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity, TrigramWordSimilarity
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections, models, transaction
from django.db.models import F, Value
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import mark_safe
from psycopg.types.numeric import Int4
from rapidfuzz.distance import OSA

from catalog import params, ranker
from moviesite.db import (
    and_where,
    fetch_after,
    fetch_prepared,
    fetch_with_settings,
    nulls_last,
    own_where,
    reading,
)
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
# ts_rank's weights of them, as the keyword statement writes them.
RANK_WEIGHTS_SQL = f"'{{{','.join(map(repr, WORD_RANK_WEIGHTS))}}}'::float8[]::float4[]"
# One of the query's words as a tsquery of its own, in the keyword statement: a one-row subquery (an InitPlan), built
# once per statement, also by a prepared statement's generic plan, which would build a function of a parameter
# again for every film (`moviesite.db.fetch_prepared`).
WORD_QUERY = "(SELECT to_tsquery('simple', quote_literal(%s)))"
# A film matching more of the query's words gains more than their sum: "tom hanks" is about Tom Hanks.
COVERAGE_EXPONENT = 1.0
# A word in more than ~5% of the films (IDF below ln 20) does not make a film a candidate on its own.
CANDIDATE_MIN_IDF = 3.0
# The rare words whose films are scored, rarest first, have at most this many films between them (see
# `candidate_words`): keyword search at a million films reads a bounded number of search vectors.
CANDIDATE_BUDGET = 10_000
# Above this many films the budget shrinks with the square root of the catalog's size (at a million films:
# 2,236): each candidate costs a read of its search vector (~4 us at 1M), and a described plot's rare words
# are in thousands of films there. Below, the budget is CANDIDATE_BUDGET, so small catalogs score the films
# they always did.
CANDIDATE_BUDGET_FULL_FILMS = 50_000
# Past the budget, the films with two of this many rarest words are the candidates (see `candidate_query`).
CANDIDATE_PAIR_WORDS = 6
# Candidates in more than this share of the films make the planner read every film (it did from ~12 % at
# 4,803 films; see `keyword_scores`).
SEQUENTIAL_SCAN_SHARE = 0.1
# A keyword statement over at least this many scored words tests whether a film has each word once, not twice
# (`word_tests`): on TMDB 5000, 1.2 -> 0.9 ms of Postgres for such a statement, 3.8 -> 2.9 ms past the
# sequential share; below, the join cost more than it saved (0.35 -> 0.39 ms).
TESTED_ONCE_MIN_WORDS = 8
# A pasted blurb of 1,000 characters has ~150 words; only its rarest ones are scored, so keyword search
# costs the same for any query length (the embedding model likewise reads only the first 256 word pieces).
MAX_SCORED_WORDS = 32
# BM25F re-scoring of the keyword ranking (`bm25_rescore`), measured on benchmarks/search_quality.py's dev
# halves (RESULTS.md, "Issue 13, third round"): for a query of this many words or more (longer than any title
# the title-first path takes), saturated term frequencies over length-normalised fields replace the sum of
# ts_rank per word. Shorter queries (titles, names) keep ts_rank, which suits them.
BM25_MIN_WORDS = 8
BM25_K1 = 1.2
BM25_B = 0.3
# A query word's occurrences count this much per field, by the search vector's weights: A title, B people,
# C genres and keywords, D overview, tagline and plot.
BM25_FIELD_WEIGHTS = {"A": 1.0, "B": 2.0, "C": 2.0, "D": 1.0}
# LexemeStat rows holding each field's length (its distinct lexemes) summed over the visible films, so the
# average comes from statistics, not from the catalog at query time. The parser never makes a lexeme with a
# space, so these can never be a word's row.
FIELD_LENGTH_WORDS = {weight: f" field {weight}" for weight in BM25_FIELD_WEIGHTS}
# BM25F's read of a film's vector: each of the query's words (the array parameter) it holds, with the weight of
# each of its occurrences ("stormi AAD"), in the vector's order. The vector without every lexeme that is not one of
# the words (ts_delete finds each by binary search), unnested: unnesting the whole vector and keeping the words'
# rows built a row and two arrays for every lexeme of the film. The same rows, in the same order (a test compares
# them), at 2.5 -> 1.9 ms of Postgres per statement of ~190 films (benchmarks/RESULTS.md, issue-16q).
WORD_ENTRIES = """ARRAY(SELECT u.lexeme || ' ' || array_to_string(u.weights, '')
                        FROM unnest(ts_delete({vector}, tsvector_to_array(ts_delete({vector}, %s::text[])))) AS u)"""
# A film whose text holds the query's words in its order (two lexemes or more) goes first in the keyword
# ranking: a pasted tagline or line, a run of a title, a full name (see `bm25_rescore`).
QUOTE_FIRST = True
# That check, read by `keyword_scores` (with the ranking) or `bm25_rescore` (on its own): the query's phrase as a
# one-row relation `q` (parameters: the text search configuration and the query), and whether the search vector
# `vector` holds it (numnode: a phrase of two lexemes or more; one lexeme is any film with that word). The phrase is
# a one-row subquery of its own (an InitPlan), built once per statement, also by a prepared statement's generic
# plan (`WORD_QUERY`).
PHRASE_OF_QUERY = "SELECT (SELECT phraseto_tsquery(%s::regconfig, %s)) AS phrase"
HOLDS_PHRASE = "numnode(q.phrase) >= 3 AND {vector} @@ q.phrase"
# The modes whose fused ranking keeps the quoted films first (`quote_first`), as the keyword ranking does.
QUOTE_FIRST_MODES = frozenset({"keyword", "hybrid"})
# The fields `raw_quotes` reads, in the order of its grades' SQL.
FILM_LINES = ("tagline", "title", "overview")
# A query of fewer than BM25_MIN_WORDS words with fewer lexemes than half its words ("Love What You Have": one
# of four) is checked against the films' own text (`raw_quotes`): the lexemes alone cannot tell its film.
RAW_QUOTE_LEXEME_SHARE = 0.5
# Operators of websearch_to_tsquery: a quoted phrase, OR, or a word excluded with a leading minus.
WEBSEARCH_SYNTAX = re.compile(r'"|\bOR\b|(^|\s)-\w')
# Hybrid fusion: each ranking's weight (times 1 - alpha for the lexical ones, alpha for the semantic one), and
# the query length at which the semantic ranking counts in full.
SIGNAL_WEIGHTS = {"keyword": 1.0, "title": 3.0, "semantic": 0.5}
SEMANTIC_FULL_WEIGHT_WORDS = 6
# Trigram evidence is only meaningful for title-length queries; long descriptions are left to the others.
TITLE_QUERY_MAX_WORDS = 12
# A typo in a short title spoils most of its trigrams: pg_trgm's default threshold (0.6 for word similarity)
# is lowered so such titles are still candidates; the closeness orders them. Above TRIGRAM_FULL_FILMS films
# it rises with every doubling of the catalog, up to TRIGRAM_MAX_THRESHOLD: at a million films a threshold of
# 0.25 makes 400,000 candidates of "the dark knight" (25 s), 0.5 makes 5,000 (see benchmarks/RESULTS.md).
TRIGRAM_THRESHOLD = 0.25
TRIGRAM_FULL_FILMS = 50_000
TRIGRAM_THRESHOLD_PER_DOUBLING = 0.06
TRIGRAM_MAX_THRESHOLD = 0.5
# Above TRIGRAM_FULL_FILMS films the threshold is also as high as a title two typos away from the query still
# passes: a typo changes at most four of the query's N trigrams (a swap of two letters), so two change at most
# TITLE_TYPO_TRIGRAMS; the query and the title then still share N - 8 of their N + 8 distinct trigrams, and
# word similarity (shared trigrams over the union, of the query and the title's best stretch) is at least
# (N - 8) / (N + 8); a query that is a run of a title exactly has 1. The index's walk reads fewer posting lists
# the higher the threshold, and a long query has many (at a million films a described plot of 4-7 words walked
# 40-70 ms at 0.5; see benchmarks/RESULTS.md, "Keyword search at a million films, cut again"). At a million
# films a query of at most 24 trigrams (three short words) keeps the catalog's 0.5. The bound is rounded down
# to 0.001: word similarity is a float4, and a title exactly at the bound must pass. (One typo, 4, walks faster
# still, keyword search 40 against 55 ms p50 at 1M, but loses half the titles with two typos there: measured in
# the same section.)
TITLE_TYPO_TRIGRAMS = 8
# When that bound sets the threshold (past TRIGRAM_FULL_FILMS films), a title two typos away from the query
# still holds all of the query's words but two, letter for letter: of its TITLE_TYPO_WORDS longest words of
# TITLE_PAIR_MIN_LETTERS letters or more, two at least. Such a query's candidates are the titles holding both
# words of one of their pairs (`typo_pairs`: six ILIKE pairs, which the trigram index intersects from a few
# short posting lists), kept at the same threshold: not the walk of every one of the query's ~30 trigrams'
# posting lists, some of hundreds of thousands of titles. At a million films the title signal of 14 of the 36
# benchmark queries fell from 23-47 ms of database CPU to 0-17 ms, keyword search 52.9 -> 44.8 ms p50 (loaded;
# benchmarks/RESULTS.md, "The title walk of a long query made of word pairs"). A title the walk finds and the
# pairs do not shares at most one of those words with the query: never one two typos inside words away.
TITLE_TYPO_WORDS = 4
TITLE_PAIR_MIN_LETTERS = 3
# One statement: the threshold for this transaction, from the planner's count of films (no count(*)), and
# whether the two-typo bound set it.
TITLE_THRESHOLD_SQL = """
    SELECT set_config('pg_trgm.word_similarity_threshold', (
        CASE WHEN reltuples > %(full)s THEN greatest(threshold, bound) ELSE threshold END)::text, true),
           reltuples > %(full)s AND bound > threshold
    FROM pg_class,
         LATERAL (SELECT least(%(max)s, greatest(%(base)s, %(base)s + %(rise)s
                                                 * log(2, greatest(reltuples, 1)::numeric / %(full)s))),
                        cardinality(show_trgm(%(query)s))) AS t(threshold, trigrams),
         LATERAL (SELECT floor(1000 * (trigrams - %(typo)s)::float8 / (trigrams + %(typo)s)) / 1000) AS b(bound)
    WHERE oid = %(table)s::regclass"""
# The same with positional parameters, to go in one query string with the title statement (`fetch_after`).
_TITLE_THRESHOLD_NAMES = re.findall(r"%\((\w+)\)s", TITLE_THRESHOLD_SQL)
_TITLE_THRESHOLD_POSITIONAL = re.sub(r"%\((\w+)\)s", "%s", TITLE_THRESHOLD_SQL)
WORD_SIMILARITY_THRESHOLD = "current_setting('pg_trgm.word_similarity_threshold')::float8"
TITLE_CLOSENESS_POWER = 3
# The query as the title filter reads it: a one-row subquery, which the planner does not try on the histogram
# (see `titles_statement`).
TITLE_FILTER_QUERY = "SELECT %s::text"
# The title-first path (see `title_first`), measured on the dev sets of benchmarks/search_quality.py.
TITLE_FIRST = True
TITLE_FIRST_MAX_WORDS = 6
TITLE_FIRST_MIN_CLOSENESS = 0.8
TITLE_FIRST_LEAD = 0.1
# In hybrid mode a query its title decides is not encoded, nor looked up in the vector index (`skips_semantic`).
TITLE_FIRST_SKIPS_SEMANTIC = True
# Nor is a query of QUOTE_DECIDES_MIN_WORDS words or more that one film quotes: fusion keeps that film first
# (`quote_first`). One or two words one film holds are a topic, not a quote.
QUOTE_DECIDES_SKIPS_SEMANTIC = True
QUOTE_DECIDES_MIN_WORDS = 3
# A title this many letter edits from the query is a typo of it (two: "godfater" -> "godfather" is one).
MAX_TITLE_EDITS = 2
# A query this short (folded) that no title is, or decides (`title_decides`), is looked up again by its words of
# SWAP_MIN_LETTERS letters or more with two neighbouring letters swapped (`swapped_words`).
SWAP_QUERY_MAX_LETTERS = 12
SWAP_MIN_LETTERS = 4
# Letters a title may have beyond its folded form ("The ", punctuation) and still be read by that second look.
SWAP_TITLE_EXTRA_LETTERS = 8
# Folded titles kept per process (`folded_title`): the title signal folds ~30 titles a search, and the same ones
# come back (popular titles, titles sharing a common word); folding them again was a third of its Python.
FOLDED_TITLES_KEPT = 8192
# Columns a page of results never shows, left behind besides querysets.DISPLAY_DEFERRED: converting them (JSON,
# timestamps) and the search text was a tenth of a page's Python.
NOT_ON_A_PAGE = ("people_text", "tags_text", "source_ids", "created_at", "updated_at", "embedding_hash", "story_hash")
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
    try:
        rankings = signals(films, query, mode=mode, alpha=alpha, pool=pool)
    except EmptyResultSet:
        # A filter that can match nothing (`pk__in=[]`): Django refuses to compile a statement for it.
        return SearchPage(count=0)
    priors = priors_of(films.model, rankings, query, mode=mode, alpha=alpha, fusion=fusion)
    fused = fuse(rankings, query, mode=mode, alpha=alpha, fusion=fusion, priors=priors)

    keys = [entry.key for entry in fused]
    Movie = films.model
    if params.ORDERINGS.get(ordering):
        keys = list(Movie.objects.filter(pk__in=keys).ordered(ordering).values_list("pk", flat=True))
    # Only the page being shown is loaded in full.
    page_keys = keys[offset : offset + limit]
    entries = {entry.key: entry for entry in fused}
    # The snippets, genres and credits come with the page, in the same statement (three with prefetches).
    matched = [key for key in page_keys if "keyword" in entries[key].signals]
    by_id = Movie.objects.defer(*NOT_ON_A_PAGE).in_bulk_for_display(
        page_keys, annotations={"headline": headline(matched, query)}
    )
    results = []
    for key in page_keys:
        movie = by_id[key]
        movie.score, movie.matched = entries[key].score, entries[key].signals
        movie.snippet = marked(movie.headline)
        results.append(movie)
    return SearchPage(count=len(keys), results=results)


def signals(
    films: MovieQuerySet, query: str, *, mode: str, alpha: float, pool: int, decide: bool = True
) -> dict[str, list[tuple[int, float]]]:
    """Each signal's ranking of `films` for `query` (the lexical ones unless semantic-only, the semantic one
    unless keyword-only), `pool` films deep; in hybrid mode, not the semantic one of a query its title or one
    quote decides (`skips_semantic`: `fuse` would leave it out), unless `decide` is False (the learned ranker's
    training reads every signal of every query: benchmarks/train_ranker.py)."""
    alpha = mode_alpha(mode, alpha)
    rankings: dict[str, list[tuple[int, float]]] = {}
    long = len(query.split()) >= BM25_MIN_WORDS
    # A described plot's BM25F scores the semantic pool's films too (`bm25_rescore`): for it the semantic pool
    # comes first, unless one film may quote it (a hybrid search at the default alpha), whose keyword ranking
    # says so first. A shorter query's comes last, and only when neither its title nor a quote decides it: the
    # query encoder and the vector index's statement are most of a new search's cost.
    quotes_first = decide and long and alpha > 0 and QUOTE_FIRST and QUOTE_DECIDES_SKIPS_SEMANTIC
    quotes_first = quotes_first and may_skip_semantic(mode, alpha)
    semantic_first = alpha > 0 and (alpha == 1 or long) and not quotes_first
    semantic = semantic_scores(films, query, limit=pool, document=alpha >= 1) if semantic_first else []
    if alpha < 1:
        # The lexeme statistics are read once, for both the keyword ranking and its re-scoring.
        stats = None if uses_syntax(query) else word_statistics(query)
        # A query BM25F does not re-score has its phrase check read with its keyword ranking (`phrases`); so does
        # a long one whose quotes come first.
        short = stats is not None and QUOTE_FIRST and not long
        phrases: set[int] | None = set() if short or (quotes_first and stats is not None) else None
        ranking = keyword_scores(films, query, limit=pool, stats=stats, phrases=phrases)
        # A line made mostly of stop words ("It Ends Here") is checked against the films' own text.
        raw = raw_quotes(films, query, stats, limit=pool) if ranking and stats is not None and QUOTE_FIRST else []
        if quotes_first and not quote_decides((phrases or set()) | {pk for pk, _ in raw}, query):
            semantic, semantic_first = semantic_scores(films, query, limit=pool), True  # no one film quotes it
        quotes: list[tuple[int, float]] = []
        everyone: dict[str, list[tuple[int, float]]] = {}
        rankings["keyword"] = bm25_rescore(
            films,
            ranking,
            query,
            stats=stats,
            quotes=quotes,
            others=[pk for pk, _ in semantic],
            everyone=everyone,
            raw=raw,
            phrases=phrases,
        )
        rankings["title"] = title_scores(films, query, limit=pool)
        if quotes:
            rankings["quote"] = quotes
        rankings.update(everyone)
    if alpha > 0:
        if not semantic_first:
            if decide and skips_semantic(rankings, query, mode=mode, alpha=alpha):
                return rankings
            semantic = semantic_scores(films, query, limit=pool)
        rankings["semantic"] = semantic
    return rankings


def may_skip_semantic(mode: str, alpha: float) -> bool:
    """Whether a search in `mode` at `alpha` leaves the semantic ranking out where a title or quote decides it
    (`skips_semantic`): hybrid mode, at an alpha no higher than the default. A user weighing meaning more keeps
    its films."""
    return TITLE_FIRST_SKIPS_SEMANTIC and mode == "hybrid" and mode_alpha(mode, alpha) <= params.DEFAULT_ALPHA


def skips_semantic(rankings: Rankings, query: str, *, mode: str, alpha: float) -> bool:
    """Whether hybrid fusion leaves the semantic ranking out (`may_skip_semantic`): the query's title decides it
    (`title_decides`), or one film quotes it (`quote_decides`). The page is that film, then the lexical
    signals' films: the vector of a typo'd title ("the dark knigth") is near little but noise, a pasted
    tagline's or overview's film is known, and encoding the query and reading the vector index were most of a
    new search's cost."""
    if not may_skip_semantic(mode, alpha):
        return False
    if title_decides(rankings.get("title") or [], query) is not None:
        return True
    return quote_decides({pk for pk, _ in rankings.get("quote") or []}, query)


def quote_decides(quoting: Collection[int], query: str) -> bool:
    """Whether one film alone quotes `query` (`quoting`: the films whose text holds its words in its order, as
    `bm25_rescore`'s quotes), a query of QUOTE_DECIDES_MIN_WORDS words or more: fusion keeps that film first
    (`quote_first`). On the dev sets the one film was the sought film every time (tmdb: 282 of 296 taglines, 51
    of 297 IMDb descriptions, 24 of 323 partial titles; benchmarks/RESULTS.md, issue 16, tenth round)."""
    if not QUOTE_DECIDES_SKIPS_SEMANTIC or len(query.split()) < QUOTE_DECIDES_MIN_WORDS:
        return False
    return len(quoting) == 1


def uses_syntax(query: str) -> bool:
    """Whether the keyword signal reads `query` as websearch syntax (a quoted phrase, OR, -word): in a query of
    fewer than BM25_MIN_WORDS words. A longer one is a pasted description, whose quotes and dashes are its
    text's ('Rusty Griswold takes his family to "Walley World"'): read as syntax, all of its words were required
    and keyword search found nothing for 7 of the 12 such dev descriptions (RESULTS.md, issue 13, fifth round)."""
    return len(query.split()) < BM25_MIN_WORDS and WEBSEARCH_SYNTAX.search(query) is not None


def mode_alpha(mode: str, alpha: float) -> float:
    return 0.0 if mode == "keyword" else 1.0 if mode == "semantic" else alpha


def priors_of(
    model: type[Movie], rankings: Rankings, query: str, *, mode: str, alpha: float, fusion: str = "relative_score"
) -> dict[int, float]:
    """How many votes each candidate film has (people look for films they have heard of), for the learned
    ranker; one statement, and only when the ranker ranks this query (`fuse` reads them nowhere else)."""
    keys = {key for ranking in rankings.values() for key, _ in ranking}
    learned = ranker.current() if fusion == "relative_score" else None
    if not keys or learned is None or not learned.covers(mode, mode_alpha(mode, alpha), query):
        return {}
    # One array parameter, not an IN list of ~200 (the ORM's pk__in): less to build, quote and plan.
    sql = f"SELECT id, vote_count FROM {model._meta.db_table} WHERE id = ANY(%s)"
    return dict(fetch_prepared(sql, [list(keys)], using=reading(model).alias))


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
    if "semantic" in rankings and skips_semantic(rankings, query, mode=mode, alpha=alpha):
        # What `signals` does not compute, fusion does not use either: given it, the same page.
        rankings = {name: ranking for name, ranking in rankings.items() if name != "semantic"}
    alpha = mode_alpha(mode, alpha)
    model = ranker.current() if fusion == "relative_score" else None
    if model is not None and model.covers(mode, alpha, query):
        fused = model.rank(rankings, query, mode=mode, alpha=alpha, priors=priors or {})
    else:
        fused = hand_fusion(rankings, query, mode=mode, alpha=alpha, fusion=fusion)
    if QUOTE_FIRST and mode in QUOTE_FIRST_MODES:
        fused = quote_first(fused, rankings.get("quote") or [])
    return title_first(fused, rankings.get("title") or [], query) if TITLE_FIRST else fused


def quote_first(fused: list[Fused], quotes: Sequence[tuple[int, float]]) -> list[Fused]:
    """The films whose text holds the query's words in its order (`bm25_rescore`'s quotes: a pasted tagline or
    line, a full name) before the others, in the keyword ranking's order: it already puts them first, and a
    semantic neighbour must not pass them in hybrid mode, nor reorder them (on the dev sets, ordering them by
    the fused score put a film quoting a name in its overview above that person's own films)."""
    if not quotes:
        return fused
    entries = {entry.key: entry for entry in fused}
    first = [entries[key] for key, _ in quotes if key in entries]
    quoted = {entry.key for entry in first}
    return first + [entry for entry in fused if entry.key not in quoted]


def title_first(fused: list[Fused], titles: Sequence[tuple[int, float]], query: str) -> list[Fused]:
    """A short query whose closeness to one title clearly stands out (a typo or two away, the next title well
    behind) is that film: it goes first, whatever the other signals say."""
    key = title_decides(titles, query)
    if key is None:
        return fused
    first = [entry for entry in fused if entry.key == key]
    return first + [entry for entry in fused if entry.key != key] if first else fused


def title_decides(titles: Sequence[tuple[int, float]], query: str) -> int | None:
    """The film a short query's title decides (`title_first`): the one title whose closeness to the query
    clearly stands out, from the title signal alone (`titles`, `title_scores`' ranking); else None."""
    if not TITLE_FIRST or len(query.split()) > TITLE_FIRST_MAX_WORDS or not titles:
        return None
    closeness = sorted((score ** (1 / TITLE_CLOSENESS_POWER) for _, score in titles), reverse=True)
    best, runner_up = closeness[0], closeness[1] if len(closeness) > 1 else 0.0
    if best < TITLE_FIRST_MIN_CLOSENESS or best - runner_up < TITLE_FIRST_LEAD:
        return None
    return max(titles, key=lambda row: row[1])[0]


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


def keyword_scores(
    films: MovieQuerySet,
    query: str,
    *,
    limit: int,
    stats: WordStatistics | None = None,
    phrases: set[int] | None = None,
) -> list[tuple[int, float]]:
    """Full-text matches, weighted by field: websearch syntax ("quoted phrase", OR, -term) when the query
    uses it, otherwise any of its words, rare words counting more (BM25's idea, see `weighted_words`).
    `stats`: the query's `word_statistics`, when the caller has read them already.

    `phrases`, when given (a query without syntax), receives the ranked films whose text holds the query's words
    in its order: `bm25_rescore`'s phrase check of a query it does not re-score, read by the same statement
    from the copies of the vectors it already holds, for the ranked films only (one statement less per search).
    """
    if uses_syntax(query):
        tsquery = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        rank = SearchRank(F("search_vector"), tsquery, weights=RANK_WEIGHTS, normalization=1)
        qs = films.filter(search_vector=tsquery).annotate(rank=rank)
        ranked = qs.order_by("-rank", nulls_last("-vote_count"), "pk").values_list("pk", "rank")[:limit]
        return list(ranked)
    if stats is None:
        stats = word_statistics(query)
    if not stats.words:
        return []
    candidates, expected = candidate_query(stats)
    # Each film's search vector is read once (`candidates_statement` makes the copy the score's expressions
    # share; the subquery's OFFSET 0 keeps the planner from folding it back into each of them): a long one is
    # stored apart (TOAST), and every mention of the column would fetch and decompress it again.
    # Candidates from the GIN index, not from reading every film: past a few percent of the films the planner
    # prefers a sequential scan, but @@ on each film's compressed search vector costs far more than it assumes
    # (20 ms against 1 ms for 628 of 4,803 films). Only then, as it costs a statement (in the same round trip).
    through_index = expected > stats.films * SEQUENTIAL_SCAN_SHARE
    inner_sql, inner_params = candidates_statement(films, candidates, through_index=through_index)
    # A query of many words tests each once per film (`word_tests`): the score reads each test twice. With few
    # words, the join costs more than the tests it saves (RESULTS.md, issue-16q).
    lateral, tests, test_params = "", None, []
    if len(stats.words) >= TESTED_ONCE_MIN_WORDS:
        lateral, tests, test_params = word_tests("film.words", stats.words)
    rank, rank_params = word_rank("film.words", stats.words, stats.weights, tests=tests)
    carried = "" if phrases is None else ", film.vote_count, film.words"  # for the phrase check below
    sql = f"""SELECT film.pk, {rank} AS rank{carried} FROM ({inner_sql} OFFSET 0) AS film {lateral}
              ORDER BY rank DESC, film.vote_count DESC NULLS LAST, film.pk LIMIT %s"""
    # Prepared (`fetch_prepared`: its tsqueries are `WORD_QUERY`'s one-row subqueries), unless it needs sequential
    # scans off, which goes in one query string with the statement (a string of two statements is not prepared).
    read = functools.partial(fetch_with_settings, {"enable_seqscan": "off"}) if through_index else fetch_prepared
    params = [*rank_params, *inner_params, *test_params, limit]
    if phrases is None:
        return read(sql, params, using=films.db)
    # The ranked films again, in the same order, each with `bm25_rescore`'s phrase check, computed after the limit.
    sql = f"""SELECT top.pk, top.rank, {HOLDS_PHRASE.format(vector="top.words")}
              FROM ({sql}) AS top, ({PHRASE_OF_QUERY}) AS q
              ORDER BY top.rank DESC, top.vote_count DESC NULLS LAST, top.pk"""
    rows = read(sql, [*params, SEARCH_CONFIG, query], using=films.db)
    phrases.update(pk for pk, _, quoted in rows if quoted)
    return [(pk, rank) for pk, rank, _ in rows]


def candidates_statement(
    films: MovieQuerySet, candidates: str, *, through_index: bool = False
) -> tuple[str, list[object]]:
    """The keyword signal's inner statement: the films matching the tsquery `candidates`, with their votes and
    a copy of their search vector. Written out over the films' own filter (`own_where`), as the ORM writes it
    (a test compares the two), without building and compiling the query on every search.

    `through_index`: for a statement run without sequential scans (`keyword_scores`), the films' own filter
    applies to the films the search index finds, in a subquery of their rows with that one condition (OFFSET
    0 keeps it apart). With the filter beside it, the planner read every visible film through the index on
    `hidden` instead (a btree, which `enable_seqscan` leaves alone) and tested @@ on each: the same films, 5.5
    -> 3.6 ms of Postgres per statement on TMDB 5000 (benchmarks/RESULTS.md, issue-16q). In the subquery no
    other index has a condition to use, so the GIN index is the only way left but reading the table. (A filter
    the ORM must write, with joins, keeps the ORM's statement.)"""
    table = films.model._meta.db_table
    # The copy: setweight over no lexemes is a plain copy of the vector (memcpy), where `|| ''` merged it with
    # an empty one entry by entry; the same vector, 0.81 -> 0.68 ms of Postgres per keyword statement on TMDB
    # 5000 (and reading the column itself in each expression cost more: 1.1 ms).
    words = RawSQL(f"setweight({table}.search_vector, 'A', '{{}}'::text[])", [])
    where = own_where(films)
    if where is None:
        inner = (
            films.filter(search_vector=SearchQuery(candidates, search_type="raw", config="simple"))
            .annotate(words=words)
            .values("pk", "vote_count", "words")
            .order_by()  # the outer query orders; sorting the vectors themselves would spill to disk
        )
        sql, params = inner.query.get_compiler(using=films.db).as_sql()
        return sql, list(params)
    quoted = connection.ops.quote_name(table)
    matches = f'{quoted}."search_vector" @@ (to_tsquery(%s::regconfig, %s))'
    columns = f'{quoted}."id" AS "pk", {quoted}."vote_count" AS "vote_count", ({words.sql}) AS "words"'
    if through_index:
        # The subquery takes the table's name, so the filter's SQL reads its columns unchanged.
        found = f"(SELECT * FROM {quoted} WHERE {matches} OFFSET 0) AS {quoted}"
        sql = f"SELECT {columns} FROM {found}" + (f" WHERE {where[0]}" if where[0] else "")
        return sql, ["simple", candidates, *where[1]]
    sql = f"SELECT {columns} FROM {quoted} WHERE {and_where(where, matches)}"
    return sql, [*where[1], "simple", candidates]


def word_rank(
    vector: str, words: Sequence[str], weights: Sequence[float], *, tests: Sequence[str] | None = None
) -> tuple[str, list[object]]:
    """A film's keyword score, as SQL over the search vector `vector`, and its parameters: the sum, over the
    query's words it has, of the word's weight times ts_rank of that word alone, times the share of the words
    it has (to the power COVERAGE_EXPONENT).

    One expression per film over one-word tsqueries each built once per statement (`WORD_QUERY`), not a
    subquery per film re-parsing every word: the same sum, in the same order, so the same float8 to the last
    bit. `tests`: SQL saying whether the film has each word (`word_tests`' columns), read in place of testing
    each word twice per film.
    """
    has = [f"{vector} @@ {WORD_QUERY}"] * len(words) if tests is None else list(tests)
    summed = " + ".join(
        f"CASE WHEN {test} THEN %s::float8 * ts_rank({RANK_WEIGHTS_SQL}, {vector}, {WORD_QUERY}) ELSE 0::float8 END"
        for test in has
    )
    matched = " + ".join(f"({test})::int" for test in has)
    inline = tests is None  # the tests' own parameters come in the statement's text here
    params: list[object] = []
    for word, weight in zip(words, weights, strict=True):
        params += [*([word] if inline else []), weight, word]
    params += [*(words if inline else []), len(words), COVERAGE_EXPONENT]
    return f"(({summed}) * power(({matched})::float8 / %s, %s))", params


def word_tests(vector: str, words: Sequence[str], *, alias: str = "has") -> tuple[str, list[str], list[object]]:
    """Whether a film has each of `words`, tested once per film: a lateral one-row subquery over the search
    vector `vector` to join after the films (OFFSET 0 keeps the planner from folding its columns back into each
    of their uses), its columns for `word_rank`'s `tests`, and its parameters."""
    tests = ", ".join(f"{vector} @@ {WORD_QUERY} AS w{i}" for i in range(len(words)))
    columns = [f"{alias}.w{i}" for i in range(len(words))]
    return f"CROSS JOIN LATERAL (SELECT {tests} OFFSET 0) AS {alias}", columns, list(words)


def candidate_query(stats: WordStatistics) -> tuple[str, int]:
    """The films scored at all, as a tsquery over the query's words, and how many films that may be at most.

    The rarer words (IDF at least CANDIDATE_MIN_IDF; every word when none is): a film sharing only "love" and
    "story" with the query could not rank anyway, and there are thousands of those. Of those, the rarest first
    while their films add up to at most the budget (`candidate_budget`: CANDIDATE_BUDGET, smaller past 50,000
    films): reading a film's search vector is most of a keyword search's cost. Below ~6,000 films the budget
    never binds (32 words in at most 5 % of the films each), so small catalogs score exactly the films they
    always did.

    When even the rarest word is in more films than the budget (a described plot in a million films), the
    candidates are the films with at least two of the CANDIDATE_PAIR_WORDS rarest words: the GIN index finds
    them without reading a film, and a film with one of those words only could not outrank them (it has half
    the coverage or less). When that rarest word is the query's only rare one ("paris" in "love story in
    paris"), its films with any of the query's other words are the candidates, for the same reason. A query of
    one word keeps all its films.
    """
    words, documents, budget = stats.words, stats.documents, candidate_budget(stats.films)
    rare = [i for i, weight in enumerate(stats.weights) if weight >= CANDIDATE_MIN_IDF] or list(range(len(words)))
    rarest = sorted(rare, key=lambda i: documents[i])  # a stable sort: ties keep the query's order
    if len(rarest) > 1 and documents[rarest[0]] > budget:
        pairs = itertools.combinations(sorted(rarest[:CANDIDATE_PAIR_WORDS]), 2)
        return " | ".join(f"('{words[i]}' & '{words[j]}')" for i, j in pairs), budget
    if len(words) > 1 and documents[rarest[0]] > budget:
        others = sorted((i for i in range(len(words)) if i != rarest[0]), key=lambda i: documents[i])
        partners = " | ".join(f"'{words[i]}'" for i in sorted(others[: CANDIDATE_PAIR_WORDS - 1]))
        return f"'{words[rarest[0]]}' & ({partners})", budget
    chosen, films = [], 0
    for i in rarest:
        if chosen and films + documents[i] > budget:
            break
        films += documents[i]
        chosen.append(i)
    return " | ".join(f"'{words[i]}'" for i in sorted(chosen)), films


def candidate_budget(films: int) -> int:
    """How many films a keyword search's candidates may add up to, in a catalog of `films` films (0: unknown):
    CANDIDATE_BUDGET up to CANDIDATE_BUDGET_FULL_FILMS, then smaller with the square root of the catalog."""
    if films <= CANDIDATE_BUDGET_FULL_FILMS:
        return CANDIDATE_BUDGET
    return round(CANDIDATE_BUDGET * math.sqrt(CANDIDATE_BUDGET_FULL_FILMS / films))


def title_scores(films: MovieQuerySet, query: str, *, limit: int) -> list[tuple[int, float]]:
    """Titles close to the query letter by letter (pg_trgm), so typos still find the film. The score is
    the better of the whole title's similarity and the best-matching stretch of it (a partial title). Past
    50,000 films a long query's candidates come from pairs of its words (`typo_pairs`), not the index's walk."""
    if len(query.split()) > TITLE_QUERY_MAX_WORDS:
        return []
    # A title is a candidate when its best-matching stretch is close enough (pg_trgm's <%, through the GIN
    # index). The whole title's similarity is never above that stretch's, so no title is left out that its
    # whole-title similarity alone would have let in.
    table = films.model._meta.db_table
    values = {
        "max": TRIGRAM_MAX_THRESHOLD,
        "base": TRIGRAM_THRESHOLD,
        "rise": TRIGRAM_THRESHOLD_PER_DOUBLING,
        "full": TRIGRAM_FULL_FILMS,
        "typo": TITLE_TYPO_TRIGRAMS,
        "query": query,
        "table": table,
    }
    pairs = typo_pairs(query)
    if pairs is None:
        # No pairs to read candidates by, whatever the threshold: it and the titles in one round trip and one
        # transaction (was BEGIN, threshold, titles, COMMIT).
        threshold = (_TITLE_THRESHOLD_POSITIONAL, [values[name] for name in _TITLE_THRESHOLD_NAMES])
        sql, params = titles_statement(films, query, limit=limit)
        rows = fetch_after(threshold, sql, params, using=films.db)
    else:
        # Whether the pairs give the candidates depends on the threshold's row (past 50,000 films, the two-typo
        # bound set it): two statements.
        with transaction.atomic(using=films.db), connections[films.db].cursor() as cursor:
            cursor.execute(TITLE_THRESHOLD_SQL, values)
            row = cursor.fetchone()
            sql, params = titles_statement(films, query, limit=limit, pairs=pairs if row and row[1] else None)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    # Trigrams forgive a typo poorly in a short title ("The Reck" shares more of them with "The Reef" than with
    # "The Rock"); one or two edits of the whole title is what a typo is, so the closer of the two counts.
    folded = folded_title(query)
    scored = [(pk, max(closeness, edit_closeness(folded, folded_title(title)))) for pk, closeness, title in rows]
    # Raised to a power, a near-exact title stands well clear of titles that merely share a word.
    ranked = closest_first(scored)
    exact = bool(ranked) and ranked[0][1] >= 1
    if not exact and title_decides(ranked, query) is None and (swaps := swapped_words(folded)):
        # Two neighbouring letters swapped in a short word spoil most of its trigrams ("rsut" shares one of five
        # with "rust"): such a title is no candidate, or too far behind to decide. When no title is the query
        # or decides it, the titles holding one of its words with two neighbours swapped back are candidates,
        # if a typo of it.
        found = {pk for pk, _ in scored}
        swapped = [
            (pk, max(closeness, edit))
            for pk, closeness, title in swap_rows(films, query, limit=limit, swaps=swaps)
            if pk not in found and (edit := edit_closeness(folded, folded_title(title)))
        ]
        if swapped:
            ranked = closest_first(scored + swapped)
    return ranked


def closest_first(scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Titles and their closeness to the query, closest first (a stable sort: ties keep their order, the more
    voted film first), each closeness raised to TITLE_CLOSENESS_POWER."""
    scored = sorted(scored, key=lambda row: -row[1])
    return [(pk, closeness**TITLE_CLOSENESS_POWER) for pk, closeness in scored]


@functools.lru_cache(maxsize=FOLDED_TITLES_KEPT)
def folded_title(title: str) -> str:
    """`catalog.models.normalise_title(title)`, the importer's folding, kept for the titles folded most."""
    from catalog.models import normalise_title  # models import this module

    return normalise_title(title)


def titles_statement(
    films: MovieQuerySet,
    query: str,
    *,
    limit: int,
    pairs: Sequence[tuple[str, str]] | None = None,
    swaps: tuple[Sequence[str], int] | None = None,
) -> tuple[str, list[object]]:
    """The title signal's statement: the films whose title's best stretch is close to `query` (pg_trgm's <%),
    closest first. Written out over the films' own filter (`own_where`), as the ORM writes it (a test compares
    the two), without building and compiling the query on every search.

    The query stands in the filter as a one-row subquery, `title %> (SELECT 'query')`, not as a constant: the
    planner estimates how many titles a constant lets in by trying it on the column's histogram (a hundred
    word_similarity calls, 0.3 ms of every title search's planning), and where that guessed over ~25 % of the
    films it read them all instead of asking the trigram index, then computed word_similarity for every title
    (18-24 ms for "The Liimey"). With the subquery it plans from a fixed share, always through the index: the
    same rows, 2.6 -> 1.8 ms of Postgres per search on TMDB 5000 (benchmarks/RESULTS.md, issue-16s2).

    With `pairs` (`typo_pairs`), the candidates are the titles holding both words of one pair instead, kept by
    the same test as <% (word similarity at least the threshold) written as a function, so that the planner
    cannot walk the index with it. With `swaps` (`swapped_words`, and the longest title to read), they are the
    titles holding one of those words (ILIKE, which the index answers too), whatever their closeness."""
    table = connection.ops.quote_name(films.model._meta.db_table)
    if swaps:
        words, longest = swaps
        condition = f'{table}."title" ILIKE ANY(%s) AND char_length({table}."title") <= %s'
        condition_params = [[f"%{word}%" for word in words], Int4(longest)]
    elif pairs is None:
        condition, condition_params = f'{table}."title" %%> ({TITLE_FILTER_QUERY})', [query]
    else:
        either, words = typo_pairs_sql(table, pairs)
        condition = f'{either} AND word_similarity(%s, {table}."title") >= {WORD_SIMILARITY_THRESHOLD}'
        condition_params = [*words, query]
    where = own_where(films)
    if where is None:
        if pairs is None and not swaps:
            candidates = films.filter(title__trigram_word_similar=RawSQL(TITLE_FILTER_QUERY, [query]))
        else:
            candidates = films.filter(RawSQL(condition, condition_params, output_field=models.BooleanField()))
        qs = (
            candidates.annotate(
                closeness=(TrigramWordSimilarity(query, "title") + TrigramSimilarity("title", query)) / 2
            )
            .order_by("-closeness", nulls_last("-vote_count"), "pk")
            .values_list("pk", "closeness", "title")[:limit]
        )
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
        return sql, list(params)
    sql = (
        f'SELECT {table}."id" AS "pk", ((WORD_SIMILARITY(%s, {table}."title") + SIMILARITY({table}."title", %s))'
        f' / %s) AS "closeness", {table}."title" AS "title" FROM {table} WHERE {and_where(where, condition)}'
        f' ORDER BY 2 DESC, {table}."vote_count" DESC NULLS LAST, 1 ASC LIMIT {int(limit)}'
    )
    return sql, [query, query, Int4(2), *where[1], *condition_params]


def swap_rows(films: MovieQuerySet, query: str, *, limit: int, swaps: Sequence[str]) -> list[tuple[int, float, str]]:
    """The title statement's rows (`titles_statement`) of the titles holding one of `swaps` and no longer than a
    title within MAX_TITLE_EDITS of the folded query can be, give or take its article and punctuation (at a
    million films thousands of titles hold a four-letter word; scoring only the short ones keeps it cheap, and
    keeps the long ones from crowding the query's title out of the first `limit`)."""
    longest = len(folded_title(query)) + MAX_TITLE_EDITS + SWAP_TITLE_EXTRA_LETTERS
    sql, params = titles_statement(films, query, limit=limit, swaps=(swaps, longest))
    return fetch_prepared(sql, params, using=films.db)


def swapped_words(folded: str) -> list[str]:
    """The words of a short folded query (`folded_title`, at most SWAP_QUERY_MAX_LETTERS letters) of
    SWAP_MIN_LETTERS letters or more, each with two neighbouring letters swapped, every way: the words of the
    title it is a typo of, when the typo is such a swap (`title_scores`). A shorter word's swaps would be a
    trigram or less, which thousands of titles hold at a million films."""
    if len(folded) > SWAP_QUERY_MAX_LETTERS:
        return []
    return sorted(
        {
            word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            for word in folded.split()
            if len(word) >= SWAP_MIN_LETTERS and word.isalnum()  # letters and digits: nothing ILIKE reads as a pattern
            for at in range(len(word) - 1)
            if word[at] != word[at + 1]
        }
    )


def typo_pairs(query: str) -> list[tuple[str, str]] | None:
    """The pairs of words of which a title at most two typos (TITLE_TYPO_TRIGRAMS) from `query` holds one at
    least, letter for letter: the TITLE_TYPO_WORDS longest of the query's words (runs of letters and digits, as
    pg_trgm splits them) of TITLE_PAIR_MIN_LETTERS letters or more, two typos spoiling two of them at most.
    None when the query has fewer such words (a shorter word has no trigram of its own to look it up by; a
    pair without it would be one word, in thousands of titles at a million films)."""
    words = {word for word in re.findall(r"[^\W_]+", query.lower()) if len(word) >= TITLE_PAIR_MIN_LETTERS}
    if len(words) < TITLE_TYPO_WORDS:
        return None
    longest = sorted(words, key=lambda word: (-len(word), word))[:TITLE_TYPO_WORDS]
    return list(itertools.combinations(longest, 2))


def typo_pairs_sql(table: str, pairs: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """Titles holding both words of one of `pairs` (ILIKE, which the title's trigram index answers; a word of
    letters and digits needs no escaping), over the quoted `table`: the condition and its parameters."""
    either = " OR ".join(f'({table}."title" ILIKE %s AND {table}."title" ILIKE %s)' for _ in pairs)
    return f"({either})", [f"%{word}%" for pair in pairs for word in pair]


def edit_closeness(query: str, title: str) -> float:
    """1 - edits / length when `query` is `title` with at most MAX_TITLE_EDITS edits (a letter deleted, added,
    replaced, or two neighbours swapped: optimal string alignment), else 0."""
    if abs(len(query) - len(title)) > MAX_TITLE_EDITS or min(len(query), len(title)) < 3:
        return 0.0
    distance = OSA.distance(query, title, score_cutoff=MAX_TITLE_EDITS)
    return 1 - distance / max(len(query), len(title)) if distance <= MAX_TITLE_EDITS else 0.0


def semantic_scores(films: MovieQuerySet, query: str, *, limit: int, document: bool = False) -> list[tuple[int, float]]:
    """Films whose story vector (no names, see `Movie.story`) is nearest the query's, through its HNSW index.

    With `document` (semantic mode), the document vector's nearest films too (names included: its own HNSW
    index, walked in the same statement), each film scored by the greater of its two cosines. A described plot is found
    by its story about as well, and names and tags far better (dev, merged catalog: a director or actor's name
    MRR@10 0.034 -> 0.230; benchmarks/RESULTS.md, issue 13, sixth round). Hybrid mode reads the story alone:
    its keyword signal already finds names. The cut is exact: a film outside one pool has a cosine below that
    pool's last there, so it can only enter the best `limit` by its other cosine, which is read."""
    vector, model = encoders.encode_query(query), encoders.get_encoder().name
    if document:
        return films.nearest_story_or_document(vector, model=model, limit=limit)[:limit]
    return films.nearest(vector, model=model, limit=limit, story=True)


def weighted_words(query: str) -> tuple[list[str], list[float]]:
    """The query's search lexemes and their BM25 inverse document frequencies (see `word_statistics`)."""
    stats = word_statistics(query)
    return stats.words, stats.weights


# `word_statistics`' statement (parameters: the text search configuration and the query): each of the query's
# lexemes with its films, and the catalog's row ('') and the fields' lengths as one object, read once (an InitPlan),
# on every row. Prepared (`fetch_prepared`), its plan made once: the query in a one-row subquery and the catalog's
# rows written in, so that the plan made for given values is no cheaper than the one for any values, which Postgres
# then keeps (0.19 -> 0.07 ms of Postgres CPU per search on TMDB 5000).
WORD_STATISTICS_SQL = f"""
    SELECT l.word, COALESCE(s.documents, 0),
           (SELECT json_object_agg(word, documents) FROM catalog_lexemestat
            WHERE word = ANY(ARRAY[{", ".join(f"'{word}'" for word in ["", *FIELD_LENGTH_WORDS.values()])}]))
    FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, (SELECT %s::text)))) AS l(word)
    LEFT JOIN catalog_lexemestat s ON s.word = l.word"""


class WordStatistics(NamedTuple):
    words: list[str]
    weights: list[float]
    documents: list[int]  # how many films have each word
    films: int  # how many films the statistics counted (0: none yet)
    # Each field's average length for BM25F (see `averages`); empty without them or without any word.
    field_averages: Mapping[str, float] = {}
    lexemes: int = 0  # how many lexemes the query has, the common ones dropped from `words` included


def word_statistics(query: str) -> WordStatistics:
    """The query's search lexemes, their BM25 inverse document frequencies and how many films have each, from
    LexemeStat; at most MAX_SCORED_WORDS of them, the rarest; and the fields' average lengths, in the same
    statement (BM25F's re-scoring needs both: one read instead of three).

    Words in more than half of the films are dropped (their IDF is about nil, and they would make every film
    a candidate); with no statistics yet, every word weighs the same.
    """
    from catalog.models import LexemeStat

    rows = fetch_prepared(WORD_STATISTICS_SQL, [SEARCH_CONFIG, query], using=reading(LexemeStat).alias)
    words, weights, counts, catalog, totals = [], [], [], 0, {}
    for word, documents, totals in rows:
        totals = totals or {}
        films = catalog = totals.get("", 0)
        if "'" in word or "\\" in word:
            continue  # never part of a lexeme the English parser makes; would break the tsquery text
        if not films:
            words.append(word)
            weights.append(1.0)
            counts.append(documents)
        elif documents <= films / 2:
            # A word the statistics do not know yet (added since the last import) counts as a rare one.
            documents = max(documents, 1)
            words.append(word)
            weights.append(math.log(1 + (films - documents + 0.5) / (documents + 0.5)))
            counts.append(documents)
    if len(words) > MAX_SCORED_WORDS:
        # The rarest words, in the order the query's lexemes came (a stable sort keeps ties in that order).
        keep = sorted(sorted(range(len(words)), key=lambda i: -weights[i])[:MAX_SCORED_WORDS])
        words, weights, counts = [words[i] for i in keep], [weights[i] for i in keep], [counts[i] for i in keep]
    return WordStatistics(words, weights, counts, catalog, averages(totals), len(rows))


def mostly_stop_words(query: str, stats: WordStatistics) -> bool:
    """Whether `query` is a short line made mostly of stop words ("It Ends Here", "Your number is up."): fewer
    than BM25_MIN_WORDS words, fewer lexemes than RAW_QUOTE_LEXEME_SHARE of them, and one scored word at least
    (the films' index finds the candidates through it)."""
    words = len(query.split())
    return bool(stats.words) and words < BM25_MIN_WORDS and stats.lexemes < RAW_QUOTE_LEXEME_SHARE * words


def folded(sql: str) -> str:
    """SQL text `sql` lower-cased, each run of characters other than letters and digits one space."""
    return f"lower(regexp_replace({sql}, '[^[:alnum:]]+', ' ', 'g'))"


def raw_quotes(films: MovieQuerySet, query: str, stats: WordStatistics, *, limit: int) -> list[tuple[int, float]]:
    """For a line made mostly of stop words (`mostly_stop_words`), the films whose tagline, title or overview holds
    its words in its order, compared case-folded word by word, with a grade, best first: 3 the tagline or title
    is the line, 2 either holds it, 1 the overview does. Otherwise nothing, and no statement.

    The English configuration keeps one or two lexemes of such a line ("love" of "Love What You Have"): neither
    the keyword ranking nor the phrase check can single out its film (RESULTS.md, issue 13, fifth round, 13j).
    One statement: the films with every scored word (the GIN index), their text read only for those; not when
    the rarest word is in more films than a keyword search's candidate budget (a million films).
    """
    if not mostly_stop_words(query, stats) or min(stats.documents) > candidate_budget(stats.films):
        return []
    quote = connection.ops.quote_name
    table = quote(films.model._meta.db_table)
    columns = [f"{table}.{quote(name)}" for name in FILM_LINES]
    line = f"btrim({folded('%s::text')})"
    tagline, title, overview = (folded(column) for column in columns)
    contains = "strpos(' ' || {} || ' ', ' ' || " + line + " || ' ') > 0"
    grade = f"""CASE WHEN btrim({tagline}) = {line} OR btrim({title}) = {line} THEN 3
                     WHEN {contains.format(tagline)} OR {contains.format(title)} THEN 2
                     WHEN {contains.format(overview)} THEN 1 ELSE 0 END"""
    # Written out over the films' own filter (`own_where`; through the ORM when it has joins), without building
    # and compiling a query. Before any regular expression, a LIKE that the line's ASCII letters and digits, in
    # order, must pass: most candidates fail it (Postgres CPU 1.2 -> 0.3 ms a line on TMDB 5000, same films).
    where = own_where(films)
    pk = f"{table}.{quote(films.model._meta.pk.column)}"
    if where is None:
        inner, params = films.order_by().values("pk").query.sql_with_params()
        where = (f"{pk} IN ({inner})", list(params))
    condition = and_where(
        where,
        f"{table}.{quote('search_vector')} @@ to_tsquery('simple', %s)",
        f"lower(concat_ws(' ', {', '.join(columns)})) LIKE %s",
    )
    pattern = "%" + "%".join(re.findall(r"[a-z0-9]+", query.lower())) + "%"
    every = " & ".join(f"'{word}'" for word in stats.words)
    sql = f"""SELECT {pk}, {grade} AS grade FROM {table} WHERE {condition}
              ORDER BY grade DESC, {table}.{quote("vote_count")} DESC NULLS LAST, {pk} LIMIT %s"""
    rows = fetch_prepared(sql, [*[query] * 5, *where[1], every, pattern, limit], using=films.db)
    return [(key, float(score)) for key, score in rows if score > 0]


def bm25_rescore(
    films: MovieQuerySet,
    ranking: Sequence[tuple[int, float]],
    query: str,
    *,
    stats: WordStatistics | None = None,
    quotes: list[tuple[int, float]] | None = None,
    others: Sequence[int] = (),
    everyone: dict[str, list[tuple[int, float]]] | None = None,
    raw: Sequence[tuple[int, float]] = (),
    phrases: set[int] | None = None,
) -> list[tuple[int, float]]:
    """The keyword ranking's films scored again: BM25F for a query of BM25_MIN_WORDS words or more, and
    before all others, the films whose text holds the query's words in the query's order (a quote: a pasted
    tagline, a run of a title, a full name).

    BM25F (Robertson and Zaragoza): a word's occurrences in each field, times the field's weight, each field's
    count divided by 1 - b + b * its length / the field's average length, are summed into one frequency tf;
    the word adds idf * tf / (k1 + tf). A long overview repeating a common word no longer outranks the film
    a description names three rare words of. Only the ranking's films (the signal's pool) are read, and only
    their own vectors; the averages come from LexemeStat (`refresh_lexeme_stats`). `stats`: the query's
    `word_statistics`, when the caller has read them already.

    `quotes`, when given, receives the quoted films (id, 1.0), best first: fusion keeps them first in hybrid
    mode too (`quote_first`).

    `everyone`, when given and the query is re-scored, receives two more rankings of the ranking's films and of
    `others` (the semantic pool's, read by the same statement): "bm25f", their BM25F scores, and "coverage",
    the share of the query's scored words each film has. The learned ranker reads them (catalog/ranker.py): a
    film only the semantic pool found otherwise has no keyword evidence at all, not even the weak kind that
    tells a near miss from a film sharing no word with the description (RESULTS.md, issue 13, fifth round).

    `raw`: `raw_quotes`' films (id, grade), quotes too, the better grades first; those the ranking lacks join it.

    `phrases`: the ranking's films whose text holds the query's words in its order, when `keyword_scores` read
    them (its `phrases`): a query not re-scored then needs no statement here, unless `raw` adds films.
    """
    if not ranking or uses_syntax(query):
        return list(ranking)  # explicit syntax says what to match: its ranking stays as asked
    grades = dict(raw)
    ranked = {pk for pk, _ in ranking}
    ranking = [*ranking, *((pk, 0.0) for pk, _ in raw if pk not in ranked)]
    rescored = len(query.split()) >= BM25_MIN_WORDS
    if not rescored and not QUOTE_FIRST:
        return list(ranking)  # nothing to score again
    ids = list(dict.fromkeys([*(pk for pk, _ in ranking), *(others if rescored and everyone is not None else ())]))
    if rescored and stats is None:
        stats = word_statistics(query)
    words, idfs = (stats.words, stats.weights) if rescored else ([], [])
    # BM25F's reads (each field's length, the query words' occurrences) only for a query it re-scores: a shorter
    # one reads whether each film quotes it, and nothing more (0.5 -> 0.1 ms of Postgres per search).
    lengths = ", ".join(f"length(ts_filter(m.search_vector, '{{{weight.lower()}}}'))" for weight in BM25_FIELD_WEIGHTS)
    scored = f", {lengths}, {WORD_ENTRIES.format(vector='m.search_vector')}"
    if not rescored and phrases is not None and ranked.issuperset(ids):
        rows = {pk: (pk in phrases,) for pk in ids}
    else:
        found = fetch_prepared(
            f"""WITH q AS ({PHRASE_OF_QUERY})
                SELECT m.id, {HOLDS_PHRASE.format(vector="m.search_vector")}{scored if rescored else ""}
                FROM {films.model._meta.db_table} AS m, q WHERE m.id = ANY(%s)""",
            [SEARCH_CONFIG, query, *([words] if rescored else []), ids],
            using=reading(films.model).alias,
        )
        rows = {row[0]: row[1:] for row in found}
    average = stats.field_averages if rescored else {}
    scores = dict(ranking)
    shares: dict[int, float] = {}
    if rescored:
        fields = len(BM25_FIELD_WEIGHTS)
        for pk, row in rows.items():
            # Each of the query's words in the film: the weight of each of its occurrences ("AAD": twice in
            # the title, once in the overview). A lexeme never holds a space.
            marks = dict(entry.rsplit(" ", 1) for entry in row[-1])
            field_lengths = dict(zip(BM25_FIELD_WEIGHTS, row[1 : 1 + fields], strict=True))
            scores[pk] = bm25f(words, idfs, marks, field_lengths, average)
            shares[pk] = len(marks) / len(words) if words else 0.0
    # A quote of the film's text goes first, whatever else scores: the best score of the ranking again lifts
    # it above all.
    lift = max(scores[pk] for pk, _ in ranking) or 1.0
    quoted = {pk for pk, row in rows.items() if (row[0] or pk in grades) and QUOTE_FIRST}
    final = {pk: score + (lift * (1 + grades.get(pk, 0)) if pk in quoted else 0.0) for pk, score in scores.items()}
    # Stable sorts, reversed too: ties keep the ranking's order.
    by_score = operator.itemgetter(1)
    ordered = sorted([(pk, final[pk]) for pk, _ in ranking], key=by_score, reverse=True)
    if quotes is not None:
        quotes.extend((pk, 1.0) for pk, _ in ordered if pk in quoted)
    if rescored and everyone is not None:
        everyone["bm25f"] = sorted([(pk, final.get(pk, 0.0)) for pk in ids], key=by_score, reverse=True)
        everyone["coverage"] = sorted([(pk, shares.get(pk, 0.0)) for pk in ids], key=by_score, reverse=True)
    return ordered


def bm25f(
    words: Sequence[str],
    idfs: Sequence[float],
    marks: Mapping[str, str],
    lengths: Mapping[str, int],
    average: Mapping[str, float],
) -> float:
    """One film's BM25F score: `marks` holds each query word's occurrences in it by field ("AAD"), `lengths`
    its fields' lengths, `average` theirs over the catalog (0: that field is not length-normalised)."""
    score = 0.0
    for word, idf in zip(words, idfs, strict=True):
        occurrences = marks.get(word)
        if not occurrences:
            continue  # it would add 0.0 (IDFs are positive), which changes no sum
        tf = 0.0
        for weight in occurrences:  # one letter per occurrence: the field it is in
            norm = 1 - BM25_B + BM25_B * lengths[weight] / average[weight] if average.get(weight) else 1.0
            tf += BM25_FIELD_WEIGHTS[weight] / norm
        score += idf * tf / (BM25_K1 + tf)
    return score


def averages(totals: Mapping[str, int]) -> dict[str, float]:
    """Each field's average length from LexemeStat's rows (`FIELD_LENGTH_WORDS`, and '' for the films)."""
    films = totals.get("")
    if not films:
        return {}
    return {field: totals[word] / films for field, word in FIELD_LENGTH_WORDS.items() if totals.get(word)}


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

    def reciprocal_ranks(ranking: Sequence[tuple[int, float]]) -> list[float]:
        return [1 / (k + rank) for rank in range(1, len(ranking) + 1)]

    return _fuse(rankings, weights, reciprocal_ranks, best=1 / (k + 1))


def relative_score_fusion(
    rankings: Rankings, weights: Mapping[str, float], *, absolute: frozenset[str] = frozenset()
) -> list[Fused]:
    """Sum each list's scores rescaled to 0..1 (its best 1, its worst 0), times the list's weight; the lists
    named in `absolute` already score on a fixed 0..1 scale and keep it (a weak best match stays weak).

    Unlike ranks, scores keep a signal's confidence: a film far ahead on one signal stays ahead after fusion.
    """
    absolute_lists = {id(rankings[name]) for name in absolute if name in rankings}

    def rescaled(ranking: Sequence[tuple[int, float]]) -> list[float]:
        scores = [score for _, score in ranking]
        if id(ranking) in absolute_lists:
            return [min(max(score, 0.0), 1.0) for score in scores]
        # The list's bounds once, not once per film (that was a fifth of a search's fusion).
        low, high = min(scores), max(scores)
        if high > low:
            spread = high - low
            return [(score - low) / spread for score in scores]
        return [1.0] * len(scores)

    return _fuse(rankings, weights, rescaled, best=1.0)


def _fuse(rankings: Rankings, weights: Mapping[str, float], contribution: Callable, *, best: float) -> list[Fused]:
    """`contribution(ranking)`: what each film of that ranking adds (before its weight), in the ranking's order."""
    total_weight = sum(weights.get(name, 0.0) for name, ranking in rankings.items() if ranking) or 1.0
    scores: dict[int, float] = {}
    signals: dict[int, list[str]] = {}
    # Heaviest list first, so ties keep its order and `signals` lists the strongest evidence first.
    for name in sorted(rankings, key=lambda n: -weights.get(n, 0.0)):
        weight = weights.get(name, 0.0)
        ranking = rankings[name]
        if weight <= 0 or not ranking:
            continue
        for (key, _), value in zip(ranking, contribution(ranking), strict=True):
            if key in scores:
                scores[key] += weight * value
                signals[key].append(name)
            else:
                scores[key] = 0.0 + weight * value  # as a sum started at 0.0 (-0.0 becomes 0.0)
                signals[key] = [name]
    scale = total_weight * best
    # A stable sort (reversed too): ties keep the order films were first met in.
    ordered = sorted(scores, key=scores.__getitem__, reverse=True)
    return [Fused(key, rounded(scores[key] / scale), signals[key]) for key in ordered]


def rounded(score: float) -> float:
    """round(score, 6), the same float: both write the exact binary value correctly rounded to six decimals (dtoa's
    mode 3) and read that back, but formatting costs a quarter of round()'s (0.17 against 0.74 us; ~200 films a
    search)."""
    return float(f"{score:.6f}")


# -- why a film matched -------------------------------------------------------------------------------------

# ts_headline marks matches with these; they cannot occur in text, so the text can be escaped around them.
_MARK_START, _MARK_END = "\x02", "\x03"


def headline(ids: list[int], query: str) -> RawSQL | Value:
    """SQL for a film's overview (or plot) with the query's words marked (ts_headline), when it is one of
    `ids` and its overview, tagline or plot has any of the words; NULL otherwise. `marked` makes it HTML."""
    if not ids:
        return Value(None, output_field=models.TextField())
    options = f"StartSel={_MARK_START}, StopSel={_MARK_END}, MaxWords=18, MinWords=8, MaxFragments=1"
    # Any of the words (plainto_tsquery wants all), built once: a one-row subquery (an InitPlan), which a prepared
    # statement's generic plan does not build again for every film either.
    any_word = "(SELECT replace(plainto_tsquery(%s::regconfig, %s)::text, '&', '|')::tsquery)"
    # Only where the search vector's D part (overview, tagline and plot: `Movie.search_vector`) has one of the
    # words: the text ts_headline reads is one of those, so it has a word to mark only then, and a headline
    # without a mark is no snippet (`marked`): none had one in 1,072,018 pairs of such a film and one of wrk's 9,747
    # search queries on TMDB 5000. A third of the headlines were of films only their title, people or tags matched
    # (2,008 of 5,740 in 600 of wrk's searches), each a parse of the whole overview.
    return RawSQL(
        f"""CASE WHEN catalog_movie.id = ANY(%s) AND ts_filter(catalog_movie.search_vector, '{{d}}') @@ {any_word}
                 THEN ts_headline(%s::regconfig, COALESCE(NULLIF(catalog_movie.overview, ''), catalog_movie.plot),
                                  {any_word}, %s) END""",
        [ids, SEARCH_CONFIG, query, SEARCH_CONFIG, SEARCH_CONFIG, query, options],
        output_field=models.TextField(),
    )


def marked(text: str | None) -> str:
    """A headline made HTML-safe: escaped first, so the only markup is ours."""
    if not text or _MARK_START not in text:
        return ""
    return mark_safe(str(escape(text)).replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>"))


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
        # Each field's length summed over the films (one scan), for bm25_rescore's averages.
        sums = ", ".join(
            f"COALESCE(sum(length(ts_filter(search_vector, '{{{w.lower()}}}'))), 0)" for w in FIELD_LENGTH_WORDS
        )
        cursor.execute(
            "INSERT INTO catalog_lexemestat (word, documents)"
            f" SELECT unnest(%s::text[]), unnest(ARRAY[{sums}]) FROM catalog_movie WHERE NOT hidden",
            [list(FIELD_LENGTH_WORDS.values())],
        )
