"""The REST API: boring views that validate parameters, call a queryset verb and serialize."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.filters import MovieFilter
from catalog.api.serializers import (
    AutocompleteParamsSerializer,
    AutocompleteSerializer,
    MovieDetailSerializer,
    MovieSerializer,
    SearchParamsSerializer,
    SearchResultSerializer,
    SimilarMovieSerializer,
    SimilarParamsSerializer,
)
from catalog.models import Movie


def _params(serializer_class, request: Request):
    """Validate query parameters (a repeated `genre` becomes a list); a bad one raises a 400."""
    data = request.query_params.dict()
    if "genre" in request.query_params:
        data["genre"] = request.query_params.getlist("genre")
    params = serializer_class(data=data)
    params.is_valid(raise_exception=True)
    return params


class MovieViewSet(viewsets.ReadOnlyModelViewSet):
    """Films of the public catalog (hidden films are left out)."""

    filterset_class = MovieFilter

    def get_queryset(self):
        if self.action == "retrieve":
            return Movie.objects.visible().with_details().defer("embedding")
        return Movie.objects.visible().for_display().ordered()

    def get_serializer_class(self):
        return MovieDetailSerializer if self.action == "retrieve" else MovieSerializer

    @extend_schema(
        parameters=[SimilarParamsSerializer],
        responses=inline_serializer("SimilarResponse", {"results": SimilarMovieSerializer(many=True)}),
    )
    @action(detail=True)
    def similar(self, request: Request, pk: str) -> Response:
        """The films most like this one (knn: cosine over the film vectors)."""
        params = _params(SimilarParamsSerializer, request).validated_data
        movie = get_object_or_404(Movie.objects.visible().with_details(), pk=pk)
        similar = Movie.objects.similar_to(movie, limit=params["limit"])
        return Response({"results": SimilarMovieSerializer(similar, many=True).data})


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


@extend_schema(
    parameters=[AutocompleteParamsSerializer, OpenApiParameter("q", str, required=True)],
    responses=AutocompleteSerializer(many=True),
)
@api_view(["GET"])
def autocomplete(request: Request) -> Response:
    """Titles matching what has been typed so far (prefix, then typo-tolerant)."""
    data = _params(AutocompleteParamsSerializer, request).validated_data
    movies = Movie.objects.visible().autocomplete(data["q"], limit=data["limit"])
    return Response(AutocompleteSerializer(movies, many=True).data)
