"""The site's query-string and POST inputs, validated before any queryset verb sees them."""

from __future__ import annotations

from django import forms
from django.utils.http import url_has_allowed_host_and_scheme

from catalog.api.serializers import MAX_QUERY_LENGTH
from catalog.models import Genre
from catalog.querysets import ORDERINGS, SEARCH_MODES

DEFAULT_METHOD = "blend"
PAGE_SIZE = 24
MAX_PAGE = 40
DECADES = range(1920, 2030, 10)
SIMILAR_METHODS = {
    "blend": "People and content",
    "cf": "People who liked this also liked",
    "knn": "Nearest vectors",
    "svm": "Exemplar SVM",
    "tfidf": "Shared words (TF-IDF)",
}
ORDERING_LABELS = {
    "relevance": "Relevance",
    "year": "Oldest first",
    "-year": "Newest first",
    "rating": "Rating",
    "popularity": "Popularity",
    "title": "Title",
}


class SearchForm(forms.Form):
    q = forms.CharField(label="Search films", max_length=MAX_QUERY_LENGTH, required=False)
    mode = forms.ChoiceField(
        choices=[(mode, mode.capitalize()) for mode in SEARCH_MODES],
        required=False,
        initial="hybrid",
        widget=forms.RadioSelect,
    )
    alpha = forms.FloatField(
        label="Hybrid balance",
        min_value=0,
        max_value=1,
        required=False,
        initial=0.5,
        widget=forms.NumberInput(attrs={"type": "range", "min": "0", "max": "1", "step": "0.1"}),
    )
    genre = forms.ModelMultipleChoiceField(
        queryset=Genre.objects.all(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple
    )
    decade = forms.TypedChoiceField(
        label="Decade",
        choices=[("", "Any decade"), *[(decade, f"{decade}s") for decade in DECADES]],
        coerce=int,
        empty_value=None,
        required=False,
    )
    year_min = forms.IntegerField(label="From year", min_value=1800, max_value=2200, required=False)
    year_max = forms.IntegerField(label="To year", min_value=1800, max_value=2200, required=False)
    person = forms.CharField(label="Director or actor", max_length=200, required=False)
    ordering = forms.ChoiceField(
        label="Sort by", choices=[(key, ORDERING_LABELS.get(key, key)) for key in ORDERINGS], required=False
    )
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def __init__(self, data=None, **kwargs) -> None:
        if data is not None and (not data.get("mode") or not data.get("alpha")):
            data = data.copy()
            # So the default mode's radio button shows as chosen and the slider sits where search() would.
            data["mode"] = data.get("mode") or "hybrid"
            data["alpha"] = data.get("alpha") or "0.5"
        super().__init__(data, **kwargs)

    def clean(self) -> dict:
        data = super().clean()
        if None not in (data.get("year_min"), data.get("year_max")) and data["year_min"] > data["year_max"]:
            raise forms.ValidationError("“From year” must not be after “To year”.")
        return data

    @property
    def has_filters(self) -> bool:
        """Whether any filter narrows the films."""
        names = ("genre", "decade", "year_min", "year_max", "person")
        return self.is_bound and any(self.data.get(name) for name in names)

    @property
    def opens_filters(self) -> bool:
        """Whether the filters panel opens: a filter or an ordering is set, or one of them is wrong."""
        ordered = self.is_bound and self.data.get("ordering", "relevance") not in ("", "relevance")
        wrong = self.is_bound and bool(self.errors.keys() - {"q", "mode", "alpha", "page"})
        return self.has_filters or ordered or wrong

    def search_arguments(self) -> tuple[dict, dict]:
        """(filters for `filter_by`, keyword arguments for `search`) from the cleaned form."""
        data = self.cleaned_data
        year_min, year_max = data.get("year_min"), data.get("year_max")
        if (decade := data.get("decade")) is not None:
            # A decade narrows whatever year range is also given.
            year_min = max(decade, year_min or decade)
            year_max = min(decade + 9, year_max or decade + 9)
        filters = {
            "genres": [genre.slug for genre in data.get("genre") or []],
            "year_min": year_min,
            "year_max": year_max,
            "person": data.get("person") or "",
        }
        page = data.get("page") or 1
        alpha = data.get("alpha")
        search = {
            "mode": data.get("mode") or "hybrid",
            "alpha": 0.5 if alpha is None else alpha,
            "ordering": data.get("ordering") or "relevance",
            "limit": PAGE_SIZE,
            "offset": (page - 1) * PAGE_SIZE,
        }
        return filters, search


class SimilarForm(forms.Form):
    method = forms.ChoiceField(choices=list(SIMILAR_METHODS.items()), required=False)

    @property
    def method_name(self) -> str:
        return self.cleaned_data.get("method") or DEFAULT_METHOD


class FavouriteForm(forms.Form):
    """Where to go back to after (un)marking a film as a favourite: a path on this site, else the film."""

    next = forms.CharField(max_length=2000, required=False)

    def next_url(self, request, fallback: str) -> str:
        url = self.cleaned_data.get("next", "") if self.is_valid() else ""
        safe = url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return url if url and safe else fallback
