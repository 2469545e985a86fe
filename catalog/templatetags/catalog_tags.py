from __future__ import annotations

import zlib

from django import template
from django.http import QueryDict

register = template.Library()


@register.filter
def poster_hue(movie) -> int:
    """A stable hue for the placeholder poster, chosen by the film's first genre (or its title)."""
    genres = [genre.name for genre in movie.genres.all()]
    key = genres[0] if genres else movie.title
    return zlib.crc32(key.encode()) % 360


@register.simple_tag(takes_context=True)
def page_url(context, number: int) -> str:
    """The current search's query string with another page number."""
    params: QueryDict = context["request"].GET.copy()
    params["page"] = str(number)
    return "?" + params.urlencode()
