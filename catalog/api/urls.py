from django.urls import include, path
from django.views.decorators.cache import cache_page
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from catalog.api import me, views

router = DefaultRouter()
router.register("movies", views.MovieViewSet, basename="movie")

urlpatterns = [
    path("search/", views.search, name="api-search"),
    path("autocomplete/", views.autocomplete, name="api-autocomplete"),
    path("recommendations/", views.recommendations, name="api-recommendations"),
    path("me/ratings/import/", me.import_ratings_file, name="api-me-ratings-import"),
    path("me/ratings/<str:movie_id>/", me.rating, name="api-me-rating"),
    path("me/recommendations/", me.recommendations, name="api-me-recommendations"),
    path("genres/", views.GenreList.as_view(), name="api-genres"),
    path("people/", views.PersonList.as_view(), name="api-people"),
    # The schema is the same for everyone and costly to build: built once an hour per process, and not
    # throttled (so it needs no database: clients and the fuzz tests load it before anything else).
    path("schema/", cache_page(60 * 60)(SpectacularAPIView.as_view(throttle_classes=[])), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]
