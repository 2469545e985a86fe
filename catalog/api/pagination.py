from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from catalog import params

MAX_OFFSET = params.MAX_LIST_OFFSET


class MoviePagination(LimitOffsetPagination):
    """`?limit=&offset=` pages of `{count, next, previous, results}`; at most 100 films a page.

    DRF quietly replaces a malformed limit or offset with the default; an integrator is better served by a 400.
    """

    default_limit = params.LIST_LIMIT
    max_limit = params.MAX_LIST_LIMIT

    def get_limit(self, request) -> int:
        return self._parameter(request, self.limit_query_param, self.default_limit, low=1, high=self.max_limit)

    def get_offset(self, request) -> int:
        return self._parameter(request, self.offset_query_param, 0, low=0, high=MAX_OFFSET)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters

    @staticmethod
    def _parameter(request, name: str, default: int, *, low: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: [f"A whole number from {low} to {high} is required."]}) from None
        if not low <= value <= high:
            raise ValidationError({name: [f"Must be from {low} to {high}."]})
        return value


class GenrePagination(MoviePagination):
    """Genres are few: a filter menu wants them all in one page."""

    default_limit = 100
    max_limit = 1000
