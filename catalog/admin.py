"""Curation in Django admin.

The vector column is never a form field (it is not editable, and pgvector's arrays break form change
detection); its status is shown read-only instead. A save that changes a film's text leaves its vector stale
rather than re-embedding it in the request: the local model takes seconds to load in a web process, and the
"Re-embed" action or `manage.py embed_movies` refreshes stale vectors.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from catalog.changes import after_films_change
from catalog.curation import merge_movies, pick_keeper
from catalog.models import Credit, Genre, Keyword, Movie, Person, Rating
from catalog.validators import is_displayable_poster
from recommender.embedding import configured_encoder, embed_movies, has_vectors, stale_films, vector_state
from recommender.encoders import EmbeddingError, get_encoder

# The stale check hashes each film's text in Python, so the filter reads at most this many films (the most
# recently changed, where an edit leaves a stale vector); `embed_movies` checks every film.
STALE_SCAN_LIMIT = 2000
# Larger batches belong to `manage.py embed_movies`, not to a web request.
MAX_REEMBED = 1000
MAX_MERGE = 10


def count_films(count: int) -> str:
    """'1 film', '2 films'."""
    return f"{count} film" if count == 1 else f"{count} films"


class NamedOnFilmsAdmin(admin.ModelAdmin):
    """A genre, keyword or person is a name shown on its films and copied into their search text: renaming or
    deleting one refreshes those films (`after_films_change`), which also bumps the catalog version, so kept
    answers and similar lists that show the old name are computed afresh."""

    films_lookup = ""  # the films' lookup of this model: "genres", "keywords", "credits__person"

    def film_ids(self, objs: QuerySet | list) -> list[int]:
        films = Movie.objects.filter(**{self.films_lookup + "__in": objs})
        return list(films.values_list("pk", flat=True).distinct())

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            after_films_change(self.film_ids([obj]))

    def delete_model(self, request: HttpRequest, obj) -> None:
        films = self.film_ids([obj])
        super().delete_model(request, obj)
        after_films_change(films)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        films = self.film_ids(queryset)
        super().delete_queryset(request, queryset)
        after_films_change(films)


@admin.register(Genre, Keyword)
class TagAdmin(NamedOnFilmsAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    @property
    def films_lookup(self) -> str:
        return "genres" if self.model is Genre else "keywords"


@admin.register(Person)
class PersonAdmin(NamedOnFilmsAdmin):
    search_fields = ["name"]
    films_lookup = "credits__person"


class CreditInline(admin.TabularInline):
    model = Credit
    autocomplete_fields = ["person"]
    extra = 1


class EmbeddingFilter(admin.SimpleListFilter):
    title = "embedding"
    parameter_name = "embedding"

    def lookups(self, request, model_admin):
        return [("yes", "Has a vector"), ("stale", "Stale vector"), ("no", "No vector")]

    def queryset(self, request, queryset):
        if self.value() in {"yes", "no"}:
            return queryset.filter(embedding__isnull=self.value() == "no")
        if self.value() == "stale":
            return self.stale(queryset)
        return queryset

    def stale(self, queryset: QuerySet) -> QuerySet:
        encoder = configured_encoder()
        if encoder is None:
            return queryset.none()
        with_vectors = queryset.filter(embedding__isnull=False)
        # Another model's vectors are found in SQL, however many; a changed text needs the hash of each text.
        recent = with_vectors.filter(embedding_model=encoder.name).order_by("-updated_at")[:STALE_SCAN_LIMIT]
        # The change list may have prefetched already, and a relation is prefetched once only.
        recent = recent.prefetch_related(None).with_details()
        changed = [film.movie.pk for film in stale_films(list(recent), encoder)]
        return with_vectors.filter(~Q(embedding_model=encoder.name) | Q(pk__in=changed))


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        decades = (
            Movie.objects.filter(year__isnull=False)
            .annotate(decade=F("year") / 10 * 10)
            .order_by("-decade")
            .values_list("decade", flat=True)
            .distinct()
        )
        return [(str(decade), f"{decade}s") for decade in decades] + [("none", "Unknown year")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(year__isnull=True)
        if self.value() and self.value().isdigit():
            start = int(self.value())
            return queryset.filter(year__gte=start, year__lt=start + 10)
        return queryset


class MovieAdminForm(forms.ModelForm):
    class Meta:
        model = Movie
        fields = ["source_ids"]  # the admin's fieldsets add the others, with its widgets

    def clean_source_ids(self) -> dict:
        """An emptied box means no source rows; the importer reads an object of source name to row."""
        value = self.cleaned_data["source_ids"]
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError('Enter an object such as {"tmdb-movies": 12}.')
        return value


class MovieChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The vector column compares each film's text with its vector's hash: prefetch what the text is made of.
        return super().get_queryset(request, exclude_parameters).with_details()


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    form = MovieAdminForm
    list_display = [
        "poster",
        "title",
        "year",
        "rating",
        "votes",
        "popularity",
        "vector",
        "hidden",
        "featured",
    ]
    list_display_links = ["poster", "title"]
    list_filter = ["hidden", "featured", EmbeddingFilter, DecadeFilter, "genres", "source"]
    list_editable = ["hidden", "featured"]
    search_fields = ["title", "original_title", "credits__person__name", "=imdb_id"]
    autocomplete_fields = ["genres", "keywords"]
    inlines = [CreditInline]
    readonly_fields = ["embedding_status", "created_at", "updated_at"]
    actions = ["hide", "unhide", "feature", "unfeature", "reembed", "merge_duplicates"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["title", "original_title", ("year", "release_date"), "hidden", "featured"]}),
        ("Text", {"fields": ["overview", "tagline", "plot"]}),
        ("Facts", {"fields": ["genres", "keywords", ("runtime", "original_language"), "countries", "poster_url"]}),
        ("Figures", {"fields": [("vote_average", "vote_count", "popularity")]}),
        ("External ids", {"fields": [("imdb_id", "tmdb_id", "movielens_id"), "source", "source_ids"]}),
        ("Vector", {"fields": ["embedding_status", ("created_at", "updated_at")]}),
    ]

    class Media:
        css = {"all": ["admin/css/moviesite_admin.css"]}
        js = ["admin/js/moviesite_admin.js"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Only whether there are vectors matters here; never load them (a form must not write them back either).
        return super().get_queryset(request).without_vectors().defer("search_vector").annotate(**has_vectors())

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return MovieChangeList

    @admin.display(description="poster")
    def poster(self, movie: Movie) -> SafeString:
        # Only web addresses become an <img>; the placeholder under it shows when there is none or it fails.
        image = ""
        if is_displayable_poster(movie.poster_url):
            image = format_html(
                '<img src="{}" alt="Poster of {}" width="40" height="60" loading="lazy">', movie.poster_url, movie.title
            )
        label = "" if image else format_html(' role="img" aria-label="No poster for {}"', movie.title)
        return format_html(
            '<span class="movie-thumb"{}><span class="movie-thumb-placeholder" aria-hidden="true">{}</span>{}</span>',
            label,
            movie.title[:1].upper(),
            image,
        )

    # Short headings keep the list narrow enough to show every column beside the filters.
    @admin.display(description="rating", ordering="vote_average")
    def rating(self, movie: Movie) -> float | None:
        return movie.vote_average

    @admin.display(description="votes", ordering="vote_count")
    def votes(self, movie: Movie) -> int | None:
        return movie.vote_count

    @admin.display(description="vector")
    def vector(self, movie: Movie) -> str:
        return vector_state(movie, configured_encoder())

    @admin.display(description="Vector status")
    def embedding_status(self, movie: Movie) -> str:
        encoder = configured_encoder()
        state = vector_state(movie, encoder) if movie.pk else "missing"
        if state == "missing":
            return "No vector yet: run `manage.py embed_movies` or the “Re-embed selected films now” action."
        dimensions = (
            Movie.objects.filter(pk=movie.pk)
            .values_list(Func("embedding", function="vector_dims", output_field=IntegerField()), flat=True)
            .get()
        )
        description = f"{movie.embedding_model}, {dimensions} dimensions"
        if state == "unknown":
            return f"{description} (the configured embedding backend is unusable)"
        if state == "stale":
            return f"{description}, stale: the text changed or another model is active; re-embed it"
        return f"{description}, fresh"

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Credits, genres and keywords are saved only now; the generated search column reads their names,
        # and the film's TF-IDF vector its words and names.
        after_films_change([form.instance.pk])
        movie = self.get_queryset(request).with_details().get(pk=form.instance.pk)
        state = vector_state(movie, configured_encoder())
        if state == "stale":
            self.message_user(
                request,
                f"The vector of “{movie}” is stale: it was made from other text or by another model. Similar films and "
                "semantic search use the old one until the “Re-embed selected films now” action or "
                "`manage.py embed_movies` refreshes it.",
                messages.WARNING,
            )
        elif state == "missing":
            self.message_user(
                request, f"“{movie}” has no vector yet; run `manage.py embed_movies` to embed it.", messages.INFO
            )

    # -- actions -------------------------------------------------------------------------------------
    # Every write stamps updated_at: caches of public pages watch the film table's latest change.

    @admin.action(description="Hide selected films from the public", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(hidden=True, updated_at=timezone.now())
        self.message_user(request, f"{count_films(count)} hidden.", messages.SUCCESS)

    @admin.action(description="Show selected films to the public", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(hidden=False, updated_at=timezone.now())
        self.message_user(request, f"{count_films(count)} visible.", messages.SUCCESS)

    @admin.action(description="Feature selected films", permissions=["change"])
    def feature(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(featured=True, updated_at=timezone.now())
        self.message_user(request, f"{count_films(count)} featured.", messages.SUCCESS)

    @admin.action(description="Stop featuring selected films", permissions=["change"])
    def unfeature(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(featured=False, updated_at=timezone.now())
        self.message_user(request, f"{count_films(count)} no longer featured.", messages.SUCCESS)

    @admin.action(description="Re-embed selected films now", permissions=["change"])
    def reembed(self, request: HttpRequest, queryset: QuerySet) -> None:
        pks = list(queryset.values_list("pk", flat=True)[: MAX_REEMBED + 1])
        if len(pks) > MAX_REEMBED:
            self.message_user(
                request, f"Select at most {MAX_REEMBED} films, or run `manage.py embed_movies`.", messages.ERROR
            )
            return
        try:
            encoder = get_encoder()
        except EmbeddingError as exc:
            self.message_user(request, f"Cannot embed: {exc}", messages.ERROR)
            return
        result = embed_movies(
            queryset=Movie.objects.filter(pk__in=pks), encoder=encoder, force=True, show_progress=False
        )
        self.message_user(
            request,
            f"{count_films(result.embedded)} re-embedded with {result.model} in {result.elapsed:.1f} s.",
            messages.SUCCESS,
        )

    @admin.action(description="Merge selected duplicates into one film", permissions=["change", "delete"])
    def merge_duplicates(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        pks = sorted(queryset.values_list("pk", flat=True)[: MAX_MERGE + 1])
        if not 2 <= len(pks) <= MAX_MERGE:
            self.message_user(request, f"Select between 2 and {MAX_MERGE} films to merge.", messages.ERROR)
            return None
        films = list(
            Movie.objects.filter(pk__in=pks)
            .without_vectors()
            .defer("search_vector")
            .annotate(credit_count=Count("credits"))
            .prefetch_related("genres")
            .order_by("pk")
        )
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Merge duplicate films",
                "subtitle": None,
                "opts": self.opts,
                "films": films,
                "default_keep": pick_keeper(films),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, "admin/catalog/movie/merge_confirmation.html", context)

        keep = next((film for film in films if str(film.pk) == request.POST.get("keep")), None)
        if keep is None:
            self.message_user(request, "Choose which of the selected films to keep.", messages.ERROR)
            return None
        others = [film for film in films if film != keep]
        result = merge_movies(keep=keep, others=others)
        merged = ", ".join(f"“{film}” (id {film.pk})" for film in others)
        self.log_change(request, result.kept, f"Merged {merged} into this film.")
        summary = f"Merged {merged} into “{result.kept}”"
        if result.ids_moved:
            summary += f"; it took their {', '.join(dict.fromkeys(result.ids_moved))}"
        self.message_user(request, summary + ".", messages.SUCCESS)
        if result.ids_dropped:
            dropped = "; ".join(result.ids_dropped)
            self.message_user(
                request, f"Ids that differed from the kept film's were dropped: {dropped}.", messages.WARNING
            )
        if vector_state(self.get_queryset(request).with_details().get(pk=keep.pk), configured_encoder()) == "stale":
            self.message_user(
                request,
                f"The vector of “{result.kept}” is stale after the merge; re-embed it with “Re-embed selected "
                "films now” or `manage.py embed_movies`.",
                messages.WARNING,
            )
        return None


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    """Users' ratings, to look at only: they are the users' own, changed on the site or through the API."""

    list_display = ["user", "movie", "stars", "source", "updated_at"]
    list_filter = ["source", "stars"]
    search_fields = ["user__username", "movie__title"]
    list_select_related = ["user", "movie"]
    readonly_fields = ["user", "movie", "stars", "source", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Rating | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Rating | None = None) -> bool:
        return False
