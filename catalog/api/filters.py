from __future__ import annotations

import django_filters

from catalog.models import Movie
from catalog.querysets import ORDERINGS


class MovieFilter(django_filters.FilterSet):
    """The movie list's filters, each delegating to the shared `filter_by` verb."""

    genre = django_filters.CharFilter(method="filter_genre", help_text="Genre name or slug; repeat for several.")
    year_min = django_filters.NumberFilter(field_name="year", lookup_expr="gte", min_value=1800, max_value=2200)
    year_max = django_filters.NumberFilter(field_name="year", lookup_expr="lte", min_value=1800, max_value=2200)
    director = django_filters.CharFilter(method="filter_shared", help_text="Part of a director's name.")
    actor = django_filters.CharFilter(method="filter_shared", help_text="Part of a cast member's name.")
    language = django_filters.CharFilter(method="filter_shared", help_text="Original language code, e.g. en.")
    tmdb_id = django_filters.NumberFilter(min_value=1, max_value=2**31 - 1, decimal_places=0)
    imdb_id = django_filters.CharFilter(max_length=16)
    ordering = django_filters.ChoiceFilter(
        method="order", choices=[(key, key) for key in ORDERINGS if key != "relevance"], empty_label=None
    )

    class Meta:
        model = Movie
        fields = ["genre", "year_min", "year_max", "director", "actor", "language", "tmdb_id", "imdb_id"]

    def filter_genre(self, queryset, name: str, value: str):
        return queryset.filter_by(genres=self.request.query_params.getlist("genre") if self.request else [value])

    def filter_shared(self, queryset, name: str, value: str):
        return queryset.filter_by(**{name: value})

    def order(self, queryset, name: str, value: str):
        return queryset.ordered(value)
