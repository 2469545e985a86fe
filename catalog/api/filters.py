"""The movie list's filters (django-filter), each delegating to the shared `filter_by` verb.

django-filter's own schema types say nothing of bounds, so each filter carries its exact OpenAPI schema.
"""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from catalog.api.serializers import MAX_GENRES, YEAR_RANGE
from catalog.models import Movie
from catalog.querysets import ORDERINGS

MAX_ID = 2**31 - 1  # tmdb_id is a PostgreSQL integer


class GenresField(forms.Field):
    """Every value of a repeated parameter (`?genre=Crime&genre=Drama`), each checked like a CharField."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(item).strip() for item in value or [] if str(item).strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > MAX_GENRES:
            raise forms.ValidationError(f"At most {MAX_GENRES} genres.")
        for item in value:
            if len(item) > 100:
                raise forms.ValidationError("A genre has at most 100 characters.")
            if "\x00" in item:
                raise forms.ValidationError("Null characters are not allowed.")


class GenresFilter(django_filters.Filter):
    field_class = GenresField


class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter would take 1999.5 too)."""

    field_class = forms.IntegerField


def _text(max_length: int, description: str) -> dict:
    return {"type": "string", "maxLength": max_length, "description": description}


def _integer(minimum: int, maximum: int, description: str) -> dict:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description}


class MovieFilter(django_filters.FilterSet):
    genre = extend_schema_field(
        {
            "type": "array",
            "items": {"type": "string", "maxLength": 100},
            "maxItems": MAX_GENRES,
            "description": "Genre name or slug; repeat for several (films must have them all).",
        }
    )(GenresFilter(method="filter_genre"))
    year_min = extend_schema_field(_integer(1800, 2200, "Released in this year or later."))(
        IntegerFilter(field_name="year", lookup_expr="gte", **YEAR_RANGE)
    )
    year_max = extend_schema_field(_integer(1800, 2200, "Released in this year or earlier."))(
        IntegerFilter(field_name="year", lookup_expr="lte", **YEAR_RANGE)
    )
    director = extend_schema_field(_text(200, "Part of a director's name."))(
        django_filters.CharFilter(method="filter_shared", max_length=200)
    )
    actor = extend_schema_field(_text(200, "Part of a cast member's name."))(
        django_filters.CharFilter(method="filter_shared", max_length=200)
    )
    language = extend_schema_field(_text(16, "Original language code, e.g. en."))(
        django_filters.CharFilter(method="filter_shared", max_length=16)
    )
    tmdb_id = extend_schema_field(_integer(1, MAX_ID, "The film with this TMDB id."))(
        IntegerFilter(min_value=1, max_value=MAX_ID)
    )
    imdb_id = extend_schema_field(_text(16, "The film with this IMDb id, e.g. tt0068646."))(
        django_filters.CharFilter(max_length=16)
    )
    ordering = extend_schema_field(
        {
            "type": "string",
            "enum": [key for key in ORDERINGS if key != "relevance"],
            "description": "Default: featured films first, then the most popular. rating and popularity: "
            "highest first; -year: newest first.",
        }
    )(
        django_filters.ChoiceFilter(
            method="order", choices=[(key, key) for key in ORDERINGS if key != "relevance"], empty_label=None
        )
    )

    class Meta:
        model = Movie
        fields = ["genre", "year_min", "year_max", "director", "actor", "language", "tmdb_id", "imdb_id"]

    def filter_genre(self, queryset, name: str, value: list[str]):
        return queryset.filter_by(genres=value)

    def filter_shared(self, queryset, name: str, value: str):
        return queryset.filter_by(**{name: value})

    def order(self, queryset, name: str, value: str):
        return queryset.ordered(value)
