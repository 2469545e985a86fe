"""Explicit serializers: the movie fields of the API contract, and the query parameters of each endpoint."""

from __future__ import annotations

import math

from rest_framework import serializers

from catalog.models import Movie
from catalog.querysets import ORDERINGS, SEARCH_MODES

LIST_CAST = 5
MAX_QUERY_LENGTH = 300
MAX_OFFSET = 1000


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
        return [genre.name for genre in movie.genres.all()]

    def get_directors(self, movie: Movie) -> list[str]:
        return [person.name for person in movie.directors]

    def get_cast(self, movie: Movie) -> list[str]:
        return [credit.person.name for credit in movie.cast[:LIST_CAST]]


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


class SimilarMovieSerializer(ScoredMovieSerializer):
    why = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))

    class Meta(ScoredMovieSerializer.Meta):
        fields = [*ScoredMovieSerializer.Meta.fields, "why"]


class FilterParamsSerializer(serializers.Serializer):
    """Filters shared by the movie list and search."""

    genre = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    year_min = serializers.IntegerField(min_value=1800, max_value=2200, required=False)
    year_max = serializers.IntegerField(min_value=1800, max_value=2200, required=False)
    director = serializers.CharField(max_length=200, required=False, default="")
    actor = serializers.CharField(max_length=200, required=False, default="")
    language = serializers.CharField(max_length=16, required=False, default="")

    def filters(self) -> dict:
        data = self.validated_data
        return {
            "genres": data["genre"],
            "year_min": data.get("year_min"),
            "year_max": data.get("year_max"),
            "director": data["director"],
            "actor": data["actor"],
            "language": data["language"],
        }


class SearchParamsSerializer(FilterParamsSerializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, required=False, allow_blank=True, default="")
    mode = serializers.ChoiceField(choices=SEARCH_MODES, default="hybrid")
    alpha = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.5)
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), default="relevance")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)

    def validate_alpha(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("alpha must be a number between 0 and 1.")
        return value


class SimilarParamsSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["knn"], default="knn")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=40)


class AutocompleteParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=20, default=10)


class AutocompleteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ["id", "title", "year"]
