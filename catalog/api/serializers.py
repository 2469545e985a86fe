"""Explicit serializers: the movie fields of the API contract, and the query parameters of each endpoint."""

from __future__ import annotations

import copy
import math
import re

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from catalog import params
from catalog.api.fields import BoundedListField
from catalog.api.writes import save_movie
from catalog.models import OVERVIEW_MAX_LENGTH, PLOT_MAX_LENGTH, Credit, Genre, Movie, Person
from catalog.querysets import prefetched
from catalog.validators import validate_poster_url
from recommender.embedding import configured_encoder, vector_state

LIST_CAST = 5
YEAR_RANGE = {"min_value": params.YEAR_MIN, "max_value": params.YEAR_MAX}
IMDB_ID = re.compile(r"^(tt[0-9]{7,14})?$")


class MovieSerializer(serializers.ModelSerializer):
    genres = serializers.SerializerMethodField()
    directors = serializers.SerializerMethodField()
    cast = serializers.SerializerMethodField()

    class Meta:
        model = Movie
        fields = [
            "id", "title", "year", "genres", "directors", "cast", "overview", "poster_url",
            "vote_average", "popularity", "tmdb_id", "imdb_id",
        ]  # fmt: skip

    def get_genres(self, movie: Movie) -> list[str]:
        return [genre.name for genre in prefetched(movie, "genres")]

    def get_directors(self, movie: Movie) -> list[str]:
        return [person.name for person in movie.directors]

    def get_cast(self, movie: Movie) -> list[str]:
        return [credit.person.name for credit in movie.cast[:LIST_CAST]]

    def writes_directly(self, owner: type[MovieSerializer]) -> bool:
        """Whether this serializer has exactly the fields `owner.to_representation` writes itself: a subclass
        with fields of its own (MovieWrittenSerializer) goes DRF's generic way, and none is silently dropped."""
        return self.Meta.fields == owner.Meta.fields

    def listed(self, movie: Movie, *, cast_limit: int | None) -> dict:
        """MovieSerializer's Meta.fields as DRF's generic path writes them (with `cast_limit` of the cast, None:
        all), without its machinery, for the answers read most (search results, similar films, a detail): DRF copied
        the declared fields and built the model's fields for every answer, then looked each field up through
        its source, 1.5 ms of a search answer's Python. The credits are read once (`directors` and `cast`
        each made a related manager to read them again)."""
        credits = prefetched(movie, "credits")
        cast = [credit for credit in credits if credit.role == Credit.Role.CAST]
        return {
            "id": movie.pk,
            "title": movie.title,
            "year": movie.year,
            "genres": self.get_genres(movie),
            "directors": [credit.person.name for credit in credits if credit.role == Credit.Role.DIRECTOR],
            "cast": [credit.person.name for credit in cast[:cast_limit]],
            "overview": movie.overview,
            "poster_url": movie.poster_url,
            "vote_average": movie.vote_average,
            "popularity": movie.popularity,
            "tmdb_id": movie.tmdb_id,
            "imdb_id": movie.imdb_id,
        }


class MovieDetailSerializer(MovieSerializer):
    keywords = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta(MovieSerializer.Meta):
        fields = [
            *MovieSerializer.Meta.fields,
            "original_title", "release_date", "runtime", "original_language", "countries", "tagline", "plot",
            "keywords", "vote_count", "movielens_id", "featured",
        ]  # fmt: skip

    def get_cast(self, movie: Movie) -> list[str]:
        return [credit.person.name for credit in movie.cast]

    def to_representation(self, movie: Movie) -> dict:
        """What DRF's generic path writes for Meta.fields (a test compares the two for every demo film), as
        `listed` says: a film's first detail answer spent a third of its Python here."""
        if not self.writes_directly(MovieDetailSerializer):
            return super().to_representation(movie)
        return {
            **self.listed(movie, cast_limit=None),
            "original_title": movie.original_title,
            "release_date": None if movie.release_date is None else movie.release_date.isoformat(),
            "runtime": movie.runtime,
            "original_language": movie.original_language,
            "countries": [str(country) for country in movie.countries],
            "tagline": movie.tagline,
            "plot": movie.plot,
            "keywords": [keyword.name for keyword in movie.keywords.all()],
            "vote_count": movie.vote_count,
            "movielens_id": movie.movielens_id,
            "featured": movie.featured,
        }


class ScoredMovieSerializer(MovieSerializer):
    score = serializers.FloatField(allow_null=True, help_text="Relevance or similarity, higher is better (0..1).")

    class Meta(MovieSerializer.Meta):
        fields = [*MovieSerializer.Meta.fields, "score"]


class SearchResultSerializer(ScoredMovieSerializer):
    matched = serializers.ListField(
        child=serializers.CharField(), help_text="Signals that found it: keyword, title (letter by letter), semantic."
    )
    snippet = serializers.CharField(
        help_text="For keyword matches: an excerpt of the synopsis, HTML-escaped, the query's words in <mark>."
    )

    class Meta(ScoredMovieSerializer.Meta):
        fields = [*ScoredMovieSerializer.Meta.fields, "matched", "snippet"]

    def to_representation(self, movie: Movie) -> dict:
        """What DRF's generic path writes for Meta.fields (a test compares the two on every kind of value)."""
        if not self.writes_directly(SearchResultSerializer):
            return super().to_representation(movie)
        return {
            **self.listed(movie, cast_limit=LIST_CAST),
            "score": movie.score,
            "matched": None if movie.matched is None else [str(name) for name in movie.matched],
            "snippet": None if movie.snippet is None else str(movie.snippet),
        }


class SimilarMovieSerializer(ScoredMovieSerializer):
    score = serializers.FloatField(
        help_text="Similarity scaled to 0..1 over the candidates, blended with the film's quality prior; higher is "
        "more alike."
    )
    why = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="What it shares with the film: `genres`, `keywords`, `people` (directors and cast); for tfidf "
        "also `terms`, the words, pairs and names that weigh most in both; for cf and blend `liked_by` "
        '("Liked by 23 of the 40 people who liked Heat"); in recommendations '
        "`because_you_liked`, the liked film it shares most with.",
    )

    class Meta(ScoredMovieSerializer.Meta):
        fields = [*ScoredMovieSerializer.Meta.fields, "why"]

    def to_representation(self, movie: Movie) -> dict:
        """What DRF's generic path writes for Meta.fields (a test compares the two for every method), as
        `listed` says: 40 films an answer, DRF's machinery was half a similar answer's Python."""
        if not self.writes_directly(SimilarMovieSerializer):
            return super().to_representation(movie)
        reasons = movie.why
        if reasons is not None:
            reasons = {
                str(kind): None if names is None else [None if name is None else str(name) for name in names]
                for kind, names in reasons.items()
            }
        return {
            **self.listed(movie, cast_limit=LIST_CAST),
            "score": None if movie.score is None else float(movie.score),
            "why": reasons,
        }


def text_filter(name: str, *, max_length: int) -> serializers.CharField:
    """An optional text filter of catalog.params.FILTERS; blank (the default) filters nothing."""
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, default="", help_text=params.FILTERS[name]
    )


class ParamsSerializer(serializers.Serializer):
    """A serializer of query parameters, made for every request: its declared fields are copied, not deep-copied.

    DRF deep-copies a serializer's declared fields for each instance (each field made again from its arguments,
    copied too), so that binding one instance's fields changes no other's: that was two thirds of validating a
    search's parameters (0.16 of 0.22 ms). A field's own copy is all that binding changes (its name, parent,
    label and source); what copies share, they only read (arguments, choices, messages, a list's child field,
    bound to the declared list field as DRF binds it, which no parent of theirs ever reads through)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class FilterParamsSerializer(ParamsSerializer):
    """Filters shared by the movie list, search and the site (catalog.params.FILTERS)."""

    genre = serializers.ListField(
        child=serializers.CharField(max_length=params.GENRE_MAX_LENGTH, allow_blank=True),
        max_length=params.MAX_GENRES,
        required=False,
        default=list,
        help_text=params.FILTERS["genre"],
    )
    year_min = serializers.IntegerField(**YEAR_RANGE, required=False, help_text=params.FILTERS["year_min"])
    year_max = serializers.IntegerField(**YEAR_RANGE, required=False, help_text=params.FILTERS["year_max"])
    decade = serializers.ChoiceField(choices=params.DECADES, required=False, help_text=params.FILTERS["decade"])
    director = text_filter("director", max_length=params.NAME_MAX_LENGTH)
    actor = text_filter("actor", max_length=params.NAME_MAX_LENGTH)
    person = text_filter("person", max_length=params.NAME_MAX_LENGTH)
    language = text_filter("language", max_length=params.LANGUAGE_MAX_LENGTH)

    def filters(self) -> dict:
        data = self.validated_data
        return params.filter_arguments(**{name: data.get(name) for name in params.FILTERS})


class SearchParamsSerializer(FilterParamsSerializer):
    q = serializers.CharField(
        max_length=params.MAX_QUERY_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text='Title, names or a described plot (a pasted blurb too); "quoted phrase", OR and -word work. '
        "Empty: browse.",
    )
    mode = serializers.ChoiceField(
        choices=list(params.SEARCH_MODES),
        default=params.DEFAULT_MODE,
        help_text="keyword (full text), semantic (meaning) or both fused.",
    )
    alpha = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        default=params.DEFAULT_ALPHA,
        help_text="Hybrid only: 0 all keyword, 1 all semantic.",
    )
    ordering = serializers.ChoiceField(
        choices=list(params.ORDERINGS),
        default=params.DEFAULT_ORDERING,
        help_text="rating and popularity: highest first; -year: newest first.",
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=params.MAX_SEARCH_LIMIT, default=params.SEARCH_LIMIT, help_text="Films per page."
    )
    offset = serializers.IntegerField(
        min_value=0,
        max_value=params.MAX_SEARCH_OFFSET,
        default=0,
        help_text=f"Films to skip (the ranking holds {params.SEARCH_DEPTH} at most).",
    )

    def validate_alpha(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("alpha must be a number between 0 and 1.")
        return value


class SimilarParamsSerializer(ParamsSerializer):
    method = serializers.ChoiceField(
        choices=list(params.SIMILAR_METHODS),
        default=params.DEFAULT_SIMILAR_METHOD,
        help_text="blend (default): co-likes from imported ratings, content (knn) and the quality prior, for films "
        "enough people rated; knn alone for the others. cf: people who liked this film also liked (`why.liked_by` "
        "says how many); films too few people rated fall back to knn. knn: cosine over the film vectors (and "
        "shared genres). svm: Karpathy's exemplar SVM over the same vectors. tfidf: cosine over TF-IDF vectors of "
        "words, word pairs and names (each result says the terms it shares).",
    )
    limit = serializers.IntegerField(min_value=1, max_value=params.MAX_SIMILAR, default=params.SIMILAR_COUNT)
    C = serializers.FloatField(
        min_value=params.C_RANGE[0],
        max_value=params.C_RANGE[1],
        default=params.DEFAULT_C,
        help_text="svm only: the SVM's regularisation (LinearSVC C); 0.01..10, whose worst case is measured.",
    )
    prior = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        help_text="Weight of the quality prior (votes, rating, popularity) against similarity; 0 = similarity only.",
    )

    def validate(self, data: dict) -> dict:
        if not all(math.isfinite(data[name]) for name in ("C", "prior") if name in data):
            raise serializers.ValidationError("C and prior must be finite numbers.")
        return data


class RecommendationRequestSerializer(serializers.Serializer):
    liked = BoundedListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=params.MAX_LIKED,
        help_text="Ids of films liked.",
    )
    disliked = BoundedListField(
        child=serializers.IntegerField(min_value=1), max_length=params.MAX_LIKED, required=False, default=list
    )
    limit = serializers.IntegerField(min_value=1, max_value=params.MAX_SIMILAR, default=params.SIMILAR_COUNT)
    method = serializers.ChoiceField(
        choices=list(params.RECOMMEND_METHODS),
        default=params.DEFAULT_RECOMMEND_METHOD,
        help_text="svm: one SVM with every liked film a positive. centroid: cosine to the liked films' mean.",
    )
    prior = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)

    def validate(self, data: dict) -> dict:
        known = set(
            Movie.objects.visible().filter(pk__in=[*data["liked"], *data["disliked"]]).values_list("pk", flat=True)
        )
        unknown = sorted({*data["liked"], *data["disliked"]} - known)
        if unknown:
            raise serializers.ValidationError({"liked": f"No visible film has the id(s) {unknown}."})
        if set(data["liked"]) & set(data["disliked"]):
            raise serializers.ValidationError({"disliked": "A film cannot be both liked and disliked."})
        if "prior" in data and not math.isfinite(data["prior"]):
            raise serializers.ValidationError({"prior": "prior must be a number between 0 and 1."})
        return data


class AutocompleteParamsSerializer(ParamsSerializer):
    q = serializers.CharField(
        max_length=params.MAX_TYPED_LENGTH, allow_blank=True, help_text="What has been typed; empty gives no titles."
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=params.MAX_AUTOCOMPLETE_LIMIT,
        default=params.AUTOCOMPLETE_LIMIT,
        help_text="Titles to return.",
    )


class AutocompleteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ["id", "title", "year"]


class GenreSerializer(serializers.ModelSerializer):
    film_count = serializers.IntegerField(read_only=True, help_text="Visible films with this genre.")

    class Meta:
        model = Genre
        fields = ["name", "slug", "film_count"]


class PeopleParamsSerializer(ParamsSerializer):
    q = serializers.CharField(
        max_length=params.MAX_TYPED_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Start of a name or of any word in it; near misses by letters count too. Empty: everyone.",
    )
    role = serializers.ChoiceField(
        choices=Credit.Role.values,
        required=False,
        allow_blank=True,
        default="",
        help_text="Only people with this role in some visible film; their `film_count` then counts that role.",
    )


class PersonSerializer(serializers.ModelSerializer):
    film_count = serializers.IntegerField(
        read_only=True, help_text="Visible films crediting this person (in `role` when one is given)."
    )

    class Meta:
        model = Person
        fields = ["id", "name", "film_count"]


VECTOR_STATUSES = {
    "fresh": "the film's vector was made from its current text",
    "stale": "its text changed since it was embedded: semantic search and similar films use the old vector "
    "until `python manage.py embed_movies` runs",
    "missing": "never embedded: it is left out of semantic search and similar films until `embed_movies` runs",
}
RELATIONS = ("genres", "keywords", "directors", "cast")


def _names(*, max_length: int, max_items: int, help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=max_length),
        max_length=max_items,
        required=False,
        write_only=True,  # read back by to_representation: the film's relations are managers, not lists
        help_text=help_text,
    )


class MovieWriteSerializer(serializers.ModelSerializer):
    """A film as staff write it: relations by name. On PATCH, a list given replaces the film's list."""

    genres = _names(max_length=200, max_items=20, help_text="Genre names; matched regardless of case, else created.")
    keywords = _names(max_length=200, max_items=100, help_text="Keywords; matched regardless of case, else created.")
    directors = _names(max_length=300, max_items=20, help_text="Directors' names; unknown people are created.")
    cast = _names(max_length=300, max_items=200, help_text="Cast names in billing order; unknown people are created.")
    imdb_id = serializers.CharField(
        max_length=16,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Like tt0068646; unique among films.",
        validators=[
            RegexValidator(IMDB_ID, "An IMDb id is tt followed by at least seven digits, e.g. tt0068646."),
            UniqueValidator(Movie.objects.all(), "Another film has this IMDb id."),
        ],
    )
    countries = serializers.ListField(
        child=serializers.CharField(max_length=8), max_length=50, required=False, help_text="Country codes, e.g. US."
    )

    class Meta:
        model = Movie
        fields = [
            "title", "original_title", "year", "release_date", "overview", "plot", "tagline", "runtime",
            "original_language", "countries", "poster_url", "vote_average", "vote_count", "popularity",
            "imdb_id", "tmdb_id", "movielens_id", "hidden", "featured", *RELATIONS,
        ]  # fmt: skip
        extra_kwargs = {
            # PostgreSQL's tsvector holds at most 1 MB: longer texts could not be indexed for search at all.
            "overview": {"max_length": OVERVIEW_MAX_LENGTH},
            "plot": {"max_length": PLOT_MAX_LENGTH},
            "year": YEAR_RANGE,
            "vote_average": {"min_value": 0, "max_value": 10},
            "popularity": {"min_value": 0},
            "tmdb_id": {"min_value": 1, "help_text": "Unique among films."},
            "movielens_id": {"min_value": 1, "help_text": "Unique among films."},
            "poster_url": {"validators": [validate_poster_url], "help_text": "http(s) on a public host."},
        }

    def validate_imdb_id(self, value: str | None) -> str | None:
        return value or None  # an empty id is no id: several films may lack one, but not share ""

    def validate(self, data: dict) -> dict:
        for role in ("directors", "cast"):
            seen: set[str] = set()
            for name in data.get(role) or []:
                if name.casefold() in seen:
                    raise serializers.ValidationError({role: [f"{name!r} is listed twice."]})
                seen.add(name.casefold())
        return data

    def to_representation(self, movie: Movie) -> dict:
        """The film as a write would state it (the browsable API's edit form starts from it)."""
        return {
            **super().to_representation(movie),
            "genres": [genre.name for genre in movie.genres.all()],
            "keywords": [keyword.name for keyword in movie.keywords.all()],
            "directors": [person.name for person in movie.directors],
            "cast": [credit.person.name for credit in movie.cast],
        }

    def create(self, validated_data: dict) -> Movie:
        relations = {name: validated_data.pop(name, None) for name in RELATIONS}
        return save_movie(fields=validated_data, **relations)

    def update(self, instance: Movie, validated_data: dict) -> Movie:
        relations = {name: validated_data.pop(name, None) for name in RELATIONS}
        return save_movie(movie=instance, fields=validated_data, **relations)


class MovieWrittenSerializer(MovieDetailSerializer):
    """What a write answers: the film as it now reads, and whether its vector still matches its text."""

    vector_status = serializers.SerializerMethodField(
        help_text="; ".join(f"{status}: {meaning}" for status, meaning in VECTOR_STATUSES.items()) + "."
    )

    class Meta(MovieDetailSerializer.Meta):
        fields = [*MovieDetailSerializer.Meta.fields, "hidden", "vector_status"]

    @extend_schema_field(serializers.ChoiceField(choices=list(VECTOR_STATUSES)))
    def get_vector_status(self, movie: Movie) -> str:
        state = vector_state(movie, configured_encoder())
        return "stale" if state == "unknown" else state  # no usable backend to compare with: embed_movies says why


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in a sentence.")
