"""Server-rendered pages: search and browse, a film with its similar films, and a visitor's favourites."""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

# account_views: the signed-in user's page contexts (imported as a module: it reads this one's too).
from catalog import account_views, params
from catalog.forms import FavouriteForm, SearchForm, SimilarForm
from catalog.models import Movie
from moviesite.throttling import throttle
from recommender.similar import recommend, similar_films

# Favourites live in the session (no account needed); the oldest drop out beyond this many.
FAVOURITES_KEY = "favourites"
MAX_FAVOURITES = 50


@require_GET
@throttle("search", only_if=lambda request: bool(request.GET))  # browsing the landing page is not searching
def home(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "catalog/home.html", {"form": form}, status=400)
    filters, arguments = form.search_arguments() if form.is_bound else ({}, {"limit": params.PAGE_SIZE})
    query = form.cleaned_data.get("q", "") if form.is_bound else ""
    page = Movie.objects.visible().filter_by(**filters).search(query, **arguments)
    number = arguments.get("offset", 0) // params.PAGE_SIZE + 1
    pages = min(math.ceil(page.count / params.PAGE_SIZE), params.MAX_PAGE)
    context = {"form": form, "page": page, "query": query, "number": number, "pages": pages}
    if not request.GET and request.user.is_authenticated:
        # A signed-in user's landing page opens with rows made from their ratings (recommender.personal).
        context.update(account_views.personal_context(request.user))
    elif not request.GET:
        # The landing page opens with the visitor's favourites and what they suggest.
        context.update(_favourites_context(_favourite_ids(request)))
    return render(request, "catalog/home.html", context)


@require_GET
def movie_detail(request: HttpRequest, pk: int) -> HttpResponse:
    movie = get_object_or_404(Movie.objects.visible().with_details(), pk=pk)
    form = SimilarForm(request.GET)
    valid = form.is_valid()
    method = form.method_name if valid else params.DEFAULT_SIMILAR_METHOD
    context = {
        "movie": movie,
        "form": form,
        "method": method,
        "methods": params.SIMILAR_METHODS,
        "method_help": params.SIMILAR_METHOD_HELP[method],
        "similar": similar_films(movie, method=method, limit=params.SIMILAR_COUNT) if valid else [],
        "is_favourite": movie.pk in _favourite_ids(request),
        **(account_views.account_film_context(request.user, movie) if request.user.is_authenticated else {}),
    }
    return render(request, "catalog/movie_detail.html", context, status=200 if valid else 400)


@require_POST
@throttle("favourite")
def toggle_favourite(request: HttpRequest, pk: int) -> HttpResponse:
    """Add the film to the visitor's favourites, or remove it if it is one; then go back where they were."""
    movie = get_object_or_404(Movie.objects.visible(), pk=pk)
    before = _favourite_ids(request)
    is_favourite = movie.pk not in before
    favourites = [other for other in before if other != movie.pk] + ([movie.pk] if is_favourite else [])
    request.session[FAVOURITES_KEY] = favourites[-MAX_FAVOURITES:]
    if not request.accepts("text/html"):  # site.js's fetch() asks for JSON and updates the button itself
        return JsonResponse({"favourite": is_favourite, "count": len(request.session[FAVOURITES_KEY])})
    return redirect(FavouriteForm(request.POST).next_url(request, fallback=movie.get_absolute_url()))


def _favourite_ids(request: HttpRequest) -> list[int]:
    """The visitor's favourite film ids, oldest first."""
    return [pk for pk in request.session.get(FAVOURITES_KEY, []) if isinstance(pk, int)]


def _favourites_context(ids: list[int]) -> dict:
    if not ids:
        return {}
    by_id = Movie.objects.visible().for_display().in_bulk(ids)
    favourites = [by_id[pk] for pk in reversed(ids) if pk in by_id]
    recommended = recommend(liked=list(by_id), limit=params.RECOMMENDED_COUNT) if by_id else []
    return {"favourites": favourites, "recommended": recommended}
