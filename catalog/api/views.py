"""The REST API: boring views that validate parameters, call a queryset verb and serialize."""

from __future__ import annotations

import re

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from catalog.api.answers import kept_answer, similar_answer
from catalog.api.filters import MovieFilter
from catalog.api.pagination import GenrePagination
from catalog.api.parsers import BoundedJSONParser
from catalog.api.permissions import ModelPermissionsOrReadOnly
from catalog.api.queries import NAME_SIMILARITY_THRESHOLD, genres_with_counts, people_matching
from catalog.api.serializers import (
    AutocompleteParamsSerializer,
    AutocompleteSerializer,
    GenreSerializer,
    MovieDetailSerializer,
    MovieSerializer,
    MovieWriteSerializer,
    MovieWrittenSerializer,
    PeopleParamsSerializer,
    PersonSerializer,
    RecommendationRequestSerializer,
    SearchParamsSerializer,
    SearchResultSerializer,
    SimilarMovieSerializer,
    SimilarParamsSerializer,
)
from catalog.models import Movie
from moviesite.db import local_settings
from recommender.similar import recommend

MOVIE_ID = re.compile(r"[0-9]{1,19}")
MAX_MOVIE_ID = 2**63 - 1


def _params(serializer_class, request: Request):
    """Validate query parameters; a bad one raises a 400. Given the QueryDict itself, DRF reads it as a form:
    a repeated `genre` is a list, and an empty optional parameter (`?limit=`) counts as absent."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params


def _is_movie_id(value: str) -> bool:
    return bool(MOVIE_ID.fullmatch(value)) and 1 <= int(value) <= MAX_MOVIE_ID


@extend_schema_view(
    list=extend_schema(description="Films of the public catalog (hidden films are left out), filtered and paginated."),
    retrieve=extend_schema(description="One visible film with all its facts and external ids."),
    destroy=extend_schema(description="Delete a film, hidden or not (staff only)."),
)
class MovieViewSet(viewsets.ModelViewSet):
    """Films of the public catalog (hidden films are left out); staff may add, change and delete them."""

    filterset_class = MovieFilter
    permission_classes = [ModelPermissionsOrReadOnly]
    parser_classes = [BoundedJSONParser]  # writes are JSON; relations as lists of names do not fit a form
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # Any id reaches the view, which answers 404 in JSON: the router's default leaves "1.5" to Django's HTML 404.
    lookup_value_regex = "[^/]+"

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # An id that is no whole number in range names no film: a 404 for every action, not a database error.
        if "pk" in kwargs and not _is_movie_id(kwargs["pk"]):
            raise NotFound("No film has this id.")

    def get_queryset(self):
        if self.action in {"partial_update", "destroy"}:
            # Staff may edit hidden films too (to unhide).
            return Movie.objects.with_details().without_vectors()
        if self.action == "retrieve":
            return Movie.objects.visible()  # read by `retrieve` with its relations in one statement
        return Movie.objects.visible().for_display().ordered()

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        """One visible film with all its facts and external ids."""
        pk = int(kwargs["pk"])

        def compute() -> Response:
            # What get_object() reads (with_details, without vectors) in one statement instead of four.
            movie = self.get_queryset().in_bulk_for_display([pk], details=True).get(pk)
            if movie is None:
                raise Http404(f"No {Movie._meta.object_name} matches the given query.")
            self.check_object_permissions(request, movie)
            return Response(self.get_serializer(movie).data)

        return kept_answer(request, "movie", {"pk": pk}, compute)

    def filter_queryset(self, queryset):
        # The filters belong to the list; a film's own URL ignores them.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action in {"create", "partial_update"}:
            return MovieWriteSerializer
        return MovieDetailSerializer if self.action == "retrieve" else MovieSerializer

    @extend_schema(
        request=MovieWriteSerializer,
        responses={201: MovieWrittenSerializer},
        parameters=[OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[201])],
    )
    def create(self, request: Request) -> Response:
        """Add a film (staff only). Its search text is current at once; its vector is missing until
        `manage.py embed_movies` runs (see `vector_status`)."""
        movie = self._write(MovieWriteSerializer(data=request.data))
        location = reverse("movie-detail", args=[movie.pk], request=request)
        return Response(
            MovieWrittenSerializer(movie).data, status=status.HTTP_201_CREATED, headers={"Location": location}
        )

    @extend_schema(request=MovieWriteSerializer, responses=MovieWrittenSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change some of a film's fields (staff only); a list given replaces the film's list. The search text
        is current at once; a changed text leaves the vector stale until `manage.py embed_movies` runs."""
        movie = self._write(MovieWriteSerializer(self.get_object(), data=request.data, partial=True))
        return Response(MovieWrittenSerializer(movie).data)

    def _write(self, serializer: MovieWriteSerializer) -> Movie:
        serializer.is_valid(raise_exception=True)
        movie = serializer.save()
        # Relations as just written.
        return Movie.objects.with_details().without_vectors().get(pk=movie.pk)

    @extend_schema(
        parameters=[SimilarParamsSerializer],
        responses=inline_serializer("SimilarResponse", {"results": SimilarMovieSerializer(many=True)}),
    )
    @action(detail=True)
    def similar(self, request: Request, pk: str) -> Response:
        """The films most like this one, by blend (default), cf, knn, svm or tfidf, with why each one is alike."""
        params = _params(SimilarParamsSerializer, request).validated_data

        def compute() -> Response:
            movie = get_object_or_404(Movie.objects.visible().for_similar(), pk=pk)
            return Response(similar_answer(movie, params))

        return kept_answer(request, "similar", {"pk": int(pk), **params}, compute)


@extend_schema(
    parameters=[SearchParamsSerializer],
    responses=inline_serializer(
        "SearchResponse",
        {
            "count": serializers.IntegerField(),
            "results": SearchResultSerializer(many=True),
        },
    ),
)
@api_view(["GET"])
def search(request: Request) -> Response:
    """Keyword, semantic or hybrid search with filters; an empty `q` browses the catalog."""
    params = _params(SearchParamsSerializer, request)
    data = params.validated_data

    def compute() -> Response:
        page = (
            Movie.objects.visible()
            .filter_by(**params.filters())
            .search(
                data["q"],
                mode=data["mode"],
                alpha=data["alpha"],
                limit=data["limit"],
                offset=data["offset"],
                ordering=data["ordering"],
            )
        )
        return Response({"count": page.count, "results": SearchResultSerializer(page.results, many=True).data})

    return kept_answer(request, "search", dict(data), compute)


@extend_schema(parameters=[AutocompleteParamsSerializer], responses=AutocompleteSerializer(many=True))
@api_view(["GET"])
def autocomplete(request: Request) -> Response:
    """Titles matching what has been typed so far (prefix, then typo-tolerant)."""
    data = _params(AutocompleteParamsSerializer, request).validated_data
    movies = Movie.objects.visible().autocomplete(data["q"], limit=data["limit"])
    return Response(AutocompleteSerializer(movies, many=True).data)


class GenreList(generics.ListAPIView):
    """Genres with their number of visible films, by name: the values the `genre` filter takes."""

    serializer_class = GenreSerializer
    pagination_class = GenrePagination

    def get_queryset(self):
        return genres_with_counts()


@extend_schema(parameters=[PeopleParamsSerializer])
class PersonList(generics.ListAPIView):
    """People credited in visible films, found by name: the names the `director` and `actor` filters take."""

    serializer_class = PersonSerializer

    def get_queryset(self):
        params = _params(PeopleParamsSerializer, self.request).validated_data
        return people_matching(params["q"], role=params["role"])

    def list(self, request: Request, *args, **kwargs) -> Response:
        # Names close to the query by letters, under the looser threshold, for this request's transaction only.
        threshold = {"pg_trgm.word_similarity_threshold": NAME_SIMILARITY_THRESHOLD}
        with local_settings(threshold, using=self.get_queryset().db):
            return super().list(request, *args, **kwargs)


@extend_schema(
    request=RecommendationRequestSerializer,
    responses=inline_serializer("RecommendationResponse", {"results": SimilarMovieSerializer(many=True)}),
)
@api_view(["POST"])
@permission_classes([AllowAny])
def recommendations(request: Request) -> Response:
    """Films for someone who liked (and perhaps disliked) some films; `why.because_you_liked` names the liked
    film each one is most like."""
    params = RecommendationRequestSerializer(data=request.data)
    params.is_valid(raise_exception=True)
    films = recommend(**params.validated_data)
    return Response({"results": SimilarMovieSerializer(films, many=True).data})
