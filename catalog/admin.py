"""Curation in Django admin. The vector column is never a form field (pgvector's arrays break form
change detection); its status is shown read-only instead."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.models import Credit, Genre, Keyword, Movie, Person
from recommender.encoders import EmbeddingError, content_hash, get_encoder


@admin.register(Genre, Keyword)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class CreditInline(admin.TabularInline):
    model = Credit
    autocomplete_fields = ["person"]
    extra = 1


class HasEmbeddingFilter(admin.SimpleListFilter):
    title = "embedding"
    parameter_name = "embedding"

    def lookups(self, request, model_admin):
        return [("yes", "Has a vector"), ("no", "No vector")]

    def queryset(self, request, queryset):
        if self.value() in {"yes", "no"}:
            return queryset.filter(embedding__isnull=self.value() == "no")
        return queryset


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "original_language", "vote_average", "hidden", "featured", "has_vector"]
    list_filter = ["hidden", "featured", HasEmbeddingFilter, "source", "genres"]
    list_editable = ["hidden", "featured"]
    search_fields = ["title", "original_title", "credits__person__name", "=imdb_id"]
    autocomplete_fields = ["genres", "keywords"]
    inlines = [CreditInline]
    readonly_fields = ["embedding_status", "source", "source_ids", "created_at", "updated_at"]
    actions = ["hide", "unhide", "feature", "unfeature"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["title", "original_title", ("year", "release_date"), "hidden", "featured"]}),
        ("Text", {"fields": ["overview", "tagline", "plot"]}),
        ("Facts", {"fields": ["genres", "keywords", ("runtime", "original_language"), "countries", "poster_url"]}),
        ("Figures", {"fields": [("vote_average", "vote_count", "popularity")]}),
        ("External ids", {"fields": [("imdb_id", "tmdb_id", "movielens_id"), "source", "source_ids"]}),
        ("Vector", {"fields": ["embedding_status", ("created_at", "updated_at")]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("embedding")

    @admin.display(boolean=True, description="vector")
    def has_vector(self, movie: Movie) -> bool:
        return bool(movie.embedding_model)

    @admin.display(description="Vector status")
    def embedding_status(self, movie: Movie) -> str:
        if not movie.pk or movie.embedding is None:
            return "No vector yet: run `manage.py embed_movies`."
        try:
            name = get_encoder().name
        except EmbeddingError as exc:
            return f"{movie.embedding_model}, {len(movie.embedding)} dimensions (backend unusable: {exc})"
        fresh = movie.embedding_hash == content_hash(name, movie.document())
        state = "fresh" if fresh else "stale: the text changed or another model is active; run embed_movies"
        return f"{movie.embedding_model}, {len(movie.embedding)} dimensions, {state}"

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # Credits, genres and keywords are saved only now; the generated search column reads their names.
        form.instance.refresh_search_text()

    @admin.action(description="Hide selected films from the public")
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"{queryset.update(hidden=True)} films hidden.", messages.SUCCESS)

    @admin.action(description="Show selected films to the public")
    def unhide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"{queryset.update(hidden=False)} films visible.", messages.SUCCESS)

    @admin.action(description="Feature selected films")
    def feature(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"{queryset.update(featured=True)} films featured.", messages.SUCCESS)

    @admin.action(description="Stop featuring selected films")
    def unfeature(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"{queryset.update(featured=False)} films no longer featured.", messages.SUCCESS)
