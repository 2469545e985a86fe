"""The movie list's filters (django-filter), each delegating to the shared `filter_by` verb.

django-filter's own schema types say nothing of bounds, so each filter carries its exact OpenAPI schema.
"""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from catalog import params
from catalog.models import Movie

YEAR_RANGE = {"min_value": params.YEAR_MIN, "max_value": params.YEAR_MAX}
MAX_GENRES = params.MAX_GENRES

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
            if len(item) > params.GENRE_MAX_LENGTH:
                raise forms.ValidationError(f"A genre has at most {params.GENRE_MAX_LENGTH} characters.")
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
    """The movie list's filters: the names and bounds of catalog.params, as search and the site take them."""

    genre = extend_schema_field(
        {
            "type": "array",
            "items": {"type": "string", "maxLength": params.GENRE_MAX_LENGTH},
            "maxItems": MAX_GENRES,
            "description": params.FILTERS["genre"],
        }
    )(GenresFilter(method="filter_genre"))
    year_min = extend_schema_field(_integer(params.YEAR_MIN, params.YEAR_MAX, params.FILTERS["year_min"]))(
        IntegerFilter(field_name="year", lookup_expr="gte", **YEAR_RANGE)
    )
    year_max = extend_schema_field(_integer(params.YEAR_MIN, params.YEAR_MAX, params.FILTERS["year_max"]))(
        IntegerFilter(field_name="year", lookup_expr="lte", **YEAR_RANGE)
    )
    decade = extend_schema_field(
        {"type": "integer", "enum": list(params.DECADES), "description": params.FILTERS["decade"]}
    )(
        django_filters.TypedChoiceFilter(
            method="filter_decade", choices=[(decade, decade) for decade in params.DECADES], coerce=int
        )
    )
    director = extend_schema_field(_text(params.NAME_MAX_LENGTH, params.FILTERS["director"]))(
        django_filters.CharFilter(method="filter_shared", max_length=params.NAME_MAX_LENGTH)
    )
    actor = extend_schema_field(_text(params.NAME_MAX_LENGTH, params.FILTERS["actor"]))(
        django_filters.CharFilter(method="filter_shared", max_length=params.NAME_MAX_LENGTH)
    )
    person = extend_schema_field(_text(params.NAME_MAX_LENGTH, params.FILTERS["person"]))(
        django_filters.CharFilter(method="filter_shared", max_length=params.NAME_MAX_LENGTH)
    )
    language = extend_schema_field(_text(params.LANGUAGE_MAX_LENGTH, params.FILTERS["language"]))(
        django_filters.CharFilter(method="filter_shared", max_length=params.LANGUAGE_MAX_LENGTH)
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
            "enum": [key for key in params.ORDERINGS if key != "relevance"],
            "description": "Default: featured films first, then the most popular. rating and popularity: "
            "highest first; -year: newest first.",
        }
    )(
        django_filters.ChoiceFilter(
            method="order", choices=[(key, key) for key in params.ORDERINGS if key != "relevance"], empty_label=None
        )
    )

    class Meta:
        model = Movie
        fields = [*params.FILTERS, "tmdb_id", "imdb_id"]

    def filter_genre(self, queryset, name: str, value: list[str]):
        return queryset.filter_by(genres=value)

    def filter_decade(self, queryset, name: str, value: int | None):
        if value is None:
            return queryset
        arguments = params.filter_arguments(decade=value)
        return queryset.filter_by(year_min=arguments["year_min"], year_max=arguments["year_max"])

    def filter_shared(self, queryset, name: str, value: str):
        return queryset.filter_by(**{name: value})

    def order(self, queryset, name: str, value: str):
        return queryset.ordered(value)
