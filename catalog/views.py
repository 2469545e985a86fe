"""Server-rendered pages: search and browse, and a film with its similar films."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from catalog.forms import MAX_PAGE, PAGE_SIZE, SearchForm
from catalog.models import Movie

SIMILAR_COUNT = 40


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "catalog/home.html", {"form": form}, status=400)
    filters, arguments = form.search_arguments() if form.is_bound else ({}, {"limit": PAGE_SIZE})
    query = form.cleaned_data.get("q", "") if form.is_bound else ""
    page = Movie.objects.visible().filter_by(**filters).search(query, **arguments)
    number = arguments.get("offset", 0) // PAGE_SIZE + 1
    has_next = number * PAGE_SIZE < page.count and number < MAX_PAGE
    return render(
        request,
        "catalog/home.html",
        {"form": form, "page": page, "query": query, "number": number, "has_next": has_next},
    )


@require_GET
def movie_detail(request: HttpRequest, pk: int) -> HttpResponse:
    movie = get_object_or_404(Movie.objects.visible().with_details(), pk=pk)
    similar = Movie.objects.similar_to(movie, limit=SIMILAR_COUNT)
    return render(request, "catalog/movie_detail.html", {"movie": movie, "similar": similar})
