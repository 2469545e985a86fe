from __future__ import annotations

import zlib

from django import template
from django.http import QueryDict

from catalog.validators import is_displayable_poster

register = template.Library()

# How many of each kind of reason a card has room for.
WHY_ITEMS = 2
WHY_TERMS = 4


@register.filter
def displayable_poster(url: str) -> str:
    """The poster URL if a browser may load it (http(s), public host), else "" (the placeholder shows)."""
    return url if is_displayable_poster(url or "") else ""


@register.filter
def poster_hue(movie) -> int:
    """A stable hue for the placeholder poster, chosen by the film's first genre (or its title)."""
    genres = [genre.name for genre in movie.genres.all()]
    key = genres[0] if genres else movie.title
    return zlib.crc32(key.encode()) % 360


@register.filter
def why_text(why: dict | None) -> str:
    """A card's short reason from a film's `.why`: the liked film behind a recommendation, then the words it
    shares (tfidf) or the people, genres and keywords ("Shares Al Pacino; crime, drama; mafia").
    Plain text, escaped by the template."""
    if not why:
        return ""
    reasons = []
    if liked := why.get("because_you_liked"):
        reasons.append(f"Because you liked {liked[0]}")
    if liked_by := why.get("liked_by"):
        reasons.append(str(liked_by[0]))
    if terms := why.get("terms"):
        reasons.append("Shared words: " + ", ".join(str(term) for term in terms[:WHY_TERMS]))
    else:
        shared = [
            ", ".join(str(item) for item in items[:WHY_ITEMS])
            for items in (why.get("people"), [genre.lower() for genre in why.get("genres") or []], why.get("keywords"))
            if items
        ]
        if shared:
            reasons.append("Shares " + "; ".join(shared))
    return ". ".join(reasons)


@register.simple_tag(takes_context=True)
def page_url(context, number: int) -> str:
    """The current search's query string with another page number."""
    params: QueryDict = context["request"].GET.copy()
    params["page"] = str(number)
    return "?" + params.urlencode()
