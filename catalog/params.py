"""The parameter vocabulary of the site and the API, declared once: search modes, orderings, similar-film
methods, their defaults, bounds and labels, and the filters both accept.

The site's form (catalog/forms.py), the API's serializers and its FilterSet (catalog/api/) read these; the
engines (catalog/search.py, recommender/similar.py) read the defaults and bounds that shape a result. Plain
values only: no Django imports, so anything may import it.
"""

from __future__ import annotations

# -- search ----------------------------------------------------------------------------------------------

# The first mode is the default.
SEARCH_MODES = {"hybrid": "Hybrid", "keyword": "Keyword", "semantic": "Semantic"}
DEFAULT_MODE = "hybrid"
# alpha weighs semantic against keyword evidence in hybrid mode: 0 all keyword, 1 all semantic.
DEFAULT_ALPHA = 0.5
# A pasted blurb runs to about 1,000 characters. The embedding model reads its first 256 word pieces and
# keyword search scores at most `catalog.search.MAX_SCORED_WORDS` words, so a longer query costs no more.
MAX_QUERY_LENGTH = 1000
# What someone types into a box that suggests titles or names as they go (autocomplete, the people list).
MAX_TYPED_LENGTH = 300
# How deep one search ranks: a page may start anywhere up to here (offset), and never beyond.
SEARCH_DEPTH = 1000
MAX_SEARCH_OFFSET = SEARCH_DEPTH
SEARCH_LIMIT = 20
MAX_SEARCH_LIMIT = 100

# Ordering name -> the film fields it sorts by (nulls last); "relevance" keeps the ranking (or, when browsing,
# featured films first, then the most popular).
ORDERINGS: dict[str, tuple[str, ...] | None] = {
    "relevance": None,
    "year": ("year", "title"),
    "-year": ("-year", "title"),
    "rating": ("-vote_average", "-vote_count"),
    "popularity": ("-popularity", "-vote_count", "-vote_average"),
    "title": ("title", "year"),
}
ORDERING_LABELS = {
    "relevance": "Relevance",
    "year": "Oldest first",
    "-year": "Newest first",
    "rating": "Rating",
    "popularity": "Popularity",
    "title": "Title",
}
DEFAULT_ORDERING = "relevance"

# -- filters: the same names on the site (query string) and in the API (search and the movie list) --------

YEAR_MIN, YEAR_MAX = 1800, 2200
# Each genre filter is a join; a handful is all a person means, hundreds would only load the database.
MAX_GENRES = 10
GENRE_MAX_LENGTH = 100
NAME_MAX_LENGTH = 200
LANGUAGE_MAX_LENGTH = 16
DECADES = tuple(range(1920, 2030, 10))
FILTERS = {
    "genre": "Genre name or slug; repeat for several (films must have them all).",
    "year_min": "Released in this year or later.",
    "year_max": "Released in this year or earlier.",
    "decade": "Released in this decade (1970 for the 1970s); narrows any year range given too.",
    "director": "Part of a director's name.",
    "actor": "Part of a cast member's name.",
    "person": "Part of the name of anyone credited (director or cast).",
    "language": "Original language code, e.g. en.",
}


def filter_arguments(
    *,
    genre: list[str] | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    decade: int | None = None,
    director: str = "",
    actor: str = "",
    person: str = "",
    language: str = "",
) -> dict:
    """The keyword arguments of `MovieQuerySet.filter_by` for validated filter values (named as in FILTERS)."""
    if decade is not None:
        # A decade narrows whatever year range is also given.
        year_min = max(decade, year_min or decade)
        year_max = min(decade + 9, year_max or decade + 9)
    return {
        "genres": [name for name in genre or [] if name],
        "year_min": year_min,
        "year_max": year_max,
        "director": director or "",
        "actor": actor or "",
        "person": person or "",
        "language": language or "",
    }


# -- lists -----------------------------------------------------------------------------------------------

LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
# Lists (films, people, genres) page through the whole table, which search's SEARCH_DEPTH does not bound.
MAX_LIST_OFFSET = 100_000
# The site shows search results in pages of this size, at most MAX_PAGE of them (within SEARCH_DEPTH).
PAGE_SIZE = 24
MAX_PAGE = 40
assert PAGE_SIZE * MAX_PAGE <= SEARCH_DEPTH
AUTOCOMPLETE_LIMIT = 10
MAX_AUTOCOMPLETE_LIMIT = 20

# -- similar films and recommendations -------------------------------------------------------------------

# The first method is the default.
SIMILAR_METHODS = {
    "blend": "People and content",
    "cf": "People who liked this also liked",
    "knn": "Nearest vectors",
    "svm": "Exemplar SVM",
    "tfidf": "Shared words (TF-IDF)",
}
# Co-likes, content and the quality prior; content alone for films few people rated (recommender.blend).
DEFAULT_SIMILAR_METHOD = "blend"
# What a film's page says of the list it shows.
SIMILAR_METHOD_HELP = {
    "blend": "Ranked by what the people who liked this film also liked, closeness in meaning, shared genres and "
    "how well liked each film is; for films few people rated, by content alone.",
    "cf": "Ranked by how many of the people who liked this film liked each other film too (imported ratings); "
    "films few people rated show their nearest vectors instead.",
    "knn": "Ranked by closeness in meaning of the films' descriptions (nearest vectors).",
    "svm": "Ranked by an exemplar SVM trained to tell this film from every other (Karpathy's method).",
    "tfidf": "Ranked by the rare words and word pairs the films' texts share (TF-IDF).",
}
RECOMMEND_METHODS = {"svm": "One SVM, every liked film a positive", "centroid": "Cosine to the liked films' mean"}
DEFAULT_RECOMMEND_METHOD = "svm"
# Karpathy's N: a film's page lists its 40 most similar films.
SIMILAR_COUNT = 40
MAX_SIMILAR = 100
RECOMMENDED_COUNT = 12
MAX_LIKED = 100
# The exemplar SVM's regularisation (LinearSVC's C): Karpathy's 0.1. Bounded so that the dearest fit a request
# can ask for is measured (benchmarks/worst_case.py): C=100 took ~1.2 s at 8,000 films.
DEFAULT_C = 0.1
C_RANGE = (0.01, 10.0)
