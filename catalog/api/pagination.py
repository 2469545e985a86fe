from rest_framework.pagination import LimitOffsetPagination


class MoviePagination(LimitOffsetPagination):
    """`?limit=&offset=` pages of `{count, next, previous, results}`; at most 100 films a page."""

    default_limit = 20
    max_limit = 100
