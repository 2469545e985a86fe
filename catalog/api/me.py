"""The signed-in user's part of the API (token or session): their ratings, an export to import, and
recommendations from them. Every query here is filtered by `request.user`: no path names another user."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.decorators import schema as view_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.parsers import BoundedJSONParser
from catalog.api.schema import MovieSiteAutoSchema
from catalog.api.serializers import SimilarMovieSerializer
from catalog.models import Movie, Rating
from catalog.ratings import parse_stars, remove_rating, set_rating
from catalog.user_ratings import MAX_ROWS, MAX_UPLOAD_BYTES, import_ratings
from recommender.personal import recommend_for_user

MAX_RECOMMENDATIONS = 100


class AccountSchema(MovieSiteAutoSchema):
    """Every operation here needs credentials, reads included (the catalog's schema marks reads as open)."""

    def get_auth(self) -> list[dict]:
        return AutoSchema.get_auth(self)

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        responses["403"]["description"] = "A browser session's write without its CSRF token."
        if "404" in responses:
            responses["404"]["description"] = "No visible film has this id, or (GET, DELETE) you have not rated it."
        if "415" in responses and "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
            responses["415"]["description"] = "The body is not multipart/form-data."
        return operation


class RatingSerializer(serializers.ModelSerializer):
    movie_id = serializers.IntegerField(read_only=True)
    stars = serializers.FloatField(read_only=True, help_text="½ to 5 in half steps.")

    class Meta:
        model = Rating
        fields = ["movie_id", "stars", "source", "created_at", "updated_at"]


class RatingWriteSerializer(serializers.Serializer):
    stars = serializers.FloatField(help_text="½ to 5 stars in half steps: 0.5, 1, 1.5, ... 5.")

    def validate_stars(self, value: float):
        try:
            return parse_stars(value)
        except ValueError:
            raise serializers.ValidationError("Give ½ to 5 stars in half steps (0.5, 1, 1.5, ... 5).") from None


class RatingsImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"Letterboxd's ratings.csv or IMDb's ratings export; at most {MAX_UPLOAD_BYTES // 2**20} MB "
        f"and {MAX_ROWS:,} rows."
    )


class RowSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line of the file (the header is line 1).")
    title = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)


class SkippedRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    error = serializers.CharField()


class RatingsImportSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["letterboxd", "imdb"])
    rows = serializers.IntegerField(help_text="Rows read (the header not counted).")
    matched = serializers.IntegerField(help_text="Rows that found a visible film.")
    created = serializers.IntegerField(help_text="New ratings.")
    updated = serializers.IntegerField(help_text="Ratings whose stars changed.")
    unchanged = serializers.IntegerField(help_text="Ratings that were already so (all of them on a re-upload).")
    unmatched = RowSerializer(many=True, help_text="Rows naming no film of this catalog (the first 1,000).")
    skipped = SkippedRowSerializer(many=True, help_text="Bad rows, by line, and why (the first 1,000).")


class RecommendationParamsSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_RECOMMENDATIONS, default=40)


def _visible_film(movie_id: str) -> Movie:
    if not movie_id.isdigit() or not 1 <= int(movie_id) <= 2**63 - 1:
        raise NotFound("No film has this id.")
    movie = Movie.objects.visible().filter(pk=int(movie_id)).first()
    if movie is None:
        raise NotFound("No film has this id.")
    return movie


@extend_schema(
    methods=["GET"], responses=RatingSerializer, description="Your rating of the film (404 if you have not rated it)."
)
@extend_schema(methods=["PUT"], request=RatingWriteSerializer, responses=RatingSerializer)
@extend_schema(methods=["DELETE"], responses={204: None})
@extend_schema(parameters=[OpenApiParameter("movie_id", OpenApiTypes.INT, OpenApiParameter.PATH)])
@api_view(["GET", "PUT", "DELETE"])
@permission_classes([IsAuthenticated])
@parser_classes([BoundedJSONParser])
@view_schema(AccountSchema())
def rating(request: Request, movie_id: str) -> Response:
    """Read, set or remove your rating of one film (½ to 5 stars)."""
    movie = _visible_film(movie_id)
    if request.method == "PUT":
        body = RatingWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = set_rating(user=request.user, movie=movie, stars=body.validated_data["stars"], source=Rating.Source.API)
        return Response(RatingSerializer(saved).data)
    if request.method == "DELETE":
        if not remove_rating(user=request.user, movie_id=movie.pk):
            raise NotFound("You have not rated this film.")
        return Response(status=status.HTTP_204_NO_CONTENT)
    found = Rating.objects.filter(user=request.user, movie=movie).first()
    if found is None:
        raise NotFound("You have not rated this film.")
    return Response(RatingSerializer(found).data)


@extend_schema(request={"multipart/form-data": RatingsImportRequestSerializer}, responses=RatingsImportSerializer)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
@parser_classes([MultiPartParser])
@view_schema(AccountSchema())
def import_ratings_file(request: Request) -> Response:
    """Bring your ratings: upload a Letterboxd `ratings.csv` (matched by title and year ±1) or an IMDb ratings
    export (matched by IMDb id; 1-10 halved). Bad rows are listed by line and skipped; uploading the same file
    again changes nothing. A file that is no ratings export, or too large, is a 400."""
    body = RatingsImportRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    upload = body.validated_data["file"]
    if upload.size > MAX_UPLOAD_BYTES:  # refused before a byte of it is parsed
        raise ValidationError({"file": [f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB."]})
    result = import_ratings(user=request.user, data=upload.read())
    if result.error:
        raise ValidationError({"file": [result.error]})
    return Response(result.as_dict())


@extend_schema(
    parameters=[RecommendationParamsSerializer],
    responses=inline_serializer("PersonalRecommendations", {"results": SimilarMovieSerializer(many=True)}),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
@view_schema(AccountSchema())
def recommendations(request: Request) -> Response:
    """Films for you from your ratings: never one you rated, never a hidden one. `why.because_you_liked` names
    the liked film each is most like; with no liked film yet, popular and recent films."""
    params = RecommendationParamsSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    films = recommend_for_user(request.user, limit=params.validated_data["limit"])
    return Response({"results": SimilarMovieSerializer(films, many=True).data})
