"""Accounts on the site: sign up, log in (session favourites carried in), rate, watchlist, bring your ratings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import views as site_views  # a module, not names: views.py imports this module's page contexts
from catalog.account_forms import STAR_CHOICES, RatingForm, RatingsUploadForm
from catalog.forms import FavouriteForm
from catalog.models import Movie, Rating, WatchlistEntry
from catalog.ratings import carry_favourites, remove_rating, set_rating, toggle_watchlist
from catalog.user_ratings import import_ratings
from recommender.personal import because_you_liked, recommend_for_user

RATINGS_PAGE_SIZE = 200
HOME_RECOMMENDED = 12


def personal_context(user) -> dict:
    """The signed-in home page: "Because you liked X" rows, or popular and recent films without ratings."""
    rows = because_you_liked(user)
    context: dict = {"personal_rows": rows, "rating_count": Rating.objects.filter(user=user).count()}
    if not rows:
        context["starter"] = recommend_for_user(user, limit=HOME_RECOMMENDED)
    return context


def account_film_context(user, movie: Movie) -> dict:
    """A film's page for a signed-in user: their stars (as the form's value) and whether it is on their watchlist."""
    stars = Rating.objects.filter(user=user, movie=movie).values_list("stars", flat=True).first()
    return {
        "user_stars": "" if stars is None else str(stars),
        "star_choices": STAR_CHOICES,
        "on_watchlist": WatchlistEntry.objects.filter(user=user, movie=movie).exists(),
    }


def _carry_session_favourites(request: HttpRequest) -> None:
    """The visitor's session favourites become 4-star ratings of the account they signed in to."""
    ids = site_views._favourite_ids(request)
    if ids:
        added = carry_favourites(user=request.user, movie_ids=ids)
        request.session.pop(site_views.FAVOURITES_KEY, None)
        if added:
            messages.info(request, f"Your {added} favourite{'s' if added != 1 else ''} became 4-star ratings.")


class SiteLoginView(LoginView):
    """Django's log-in, which also carries the session's favourites into the account."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)  # login() keeps an anonymous session's data
        _carry_session_favourites(self.request)
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("catalog:home")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        _carry_session_favourites(request)
        return redirect("catalog:home")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the user's stars for the film, or remove the rating (empty stars); then go back where they were."""
    movie = get_object_or_404(Movie.objects.visible(), pk=pk)
    form = RatingForm(request.POST)
    if not form.is_valid():
        if not request.accepts("text/html"):
            return JsonResponse({"errors": form.errors}, status=400)
        messages.error(request, "Choose from ½ to 5 stars.")
        return redirect(movie.get_absolute_url())
    stars = form.cleaned_data["stars"]
    if stars is None:
        remove_rating(user=request.user, movie_id=movie.pk)
    else:
        set_rating(user=request.user, movie=movie, stars=stars)
    if not request.accepts("text/html"):  # site.js's fetch() asks for JSON
        return JsonResponse({"stars": None if stars is None else float(stars)})
    return redirect(FavouriteForm(request.POST).next_url(request, fallback=movie.get_absolute_url()))


@login_required
@require_POST
def watchlist(request: HttpRequest, pk: int) -> HttpResponse:
    """Put the film on the user's watchlist or take it off; then go back where they were."""
    movie = get_object_or_404(Movie.objects.visible(), pk=pk)
    on_list = toggle_watchlist(user=request.user, movie=movie)
    if not request.accepts("text/html"):
        return JsonResponse({"watchlist": on_list})
    return redirect(FavouriteForm(request.POST).next_url(request, fallback=movie.get_absolute_url()))


@login_required
@require_GET
def my_ratings(request: HttpRequest) -> HttpResponse:
    """The user's ratings, watchlist, and the form that brings ratings from Letterboxd or IMDb."""
    return render(request, "accounts/ratings.html", _ratings_context(request, RatingsUploadForm()))


@login_required
@require_POST
def upload_ratings(request: HttpRequest) -> HttpResponse:
    form = RatingsUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "accounts/ratings.html", _ratings_context(request, form), status=400)
    result = import_ratings(user=request.user, data=form.cleaned_data["data"])
    context = {**_ratings_context(request, RatingsUploadForm()), "result": result}
    return render(request, "accounts/ratings.html", context, status=400 if result.error else 200)


def _ratings_context(request: HttpRequest, form: RatingsUploadForm) -> dict:
    ratings = (
        Rating.objects.filter(user=request.user, movie__hidden=False)
        .select_related("movie")
        .order_by("-stars", "-updated_at")[:RATINGS_PAGE_SIZE]
    )
    entries = WatchlistEntry.objects.filter(user=request.user, movie__hidden=False).select_related("movie")
    return {
        "form": form,
        "ratings": ratings,
        "rating_count": Rating.objects.filter(user=request.user).count(),
        "watchlist": entries,
    }
