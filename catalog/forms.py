from __future__ import annotations

from django import forms

from catalog.api.serializers import MAX_QUERY_LENGTH
from catalog.models import Genre
from catalog.querysets import ORDERINGS, SEARCH_MODES

PAGE_SIZE = 24
MAX_PAGE = 40


class SearchForm(forms.Form):
    q = forms.CharField(label="Search films", max_length=MAX_QUERY_LENGTH, required=False)
    mode = forms.ChoiceField(
        choices=[(mode, mode.capitalize()) for mode in SEARCH_MODES],
        required=False,
        initial="hybrid",
        widget=forms.RadioSelect,
    )
    genre = forms.ModelMultipleChoiceField(
        queryset=Genre.objects.all(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple
    )
    year_min = forms.IntegerField(label="From year", min_value=1800, max_value=2200, required=False)
    year_max = forms.IntegerField(label="To year", min_value=1800, max_value=2200, required=False)
    person = forms.CharField(label="Director or actor", max_length=200, required=False)
    ordering = forms.ChoiceField(
        label="Sort by", choices=[(key, key.lstrip("-").capitalize()) for key in ORDERINGS], required=False
    )
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)

    def __init__(self, data=None, **kwargs) -> None:
        if data is not None and not data.get("mode"):
            data = data.copy()
            data["mode"] = "hybrid"  # so the default mode's radio button shows as chosen
        super().__init__(data, **kwargs)

    def search_arguments(self) -> tuple[dict, dict]:
        """(filters for `filter_by`, keyword arguments for `search`) from the cleaned form."""
        data = self.cleaned_data
        filters = {
            "genres": [genre.slug for genre in data.get("genre") or []],
            "year_min": data.get("year_min"),
            "year_max": data.get("year_max"),
            "person": data.get("person") or "",
        }
        page = data.get("page") or 1
        search = {
            "mode": data.get("mode") or "hybrid",
            "ordering": data.get("ordering") or "relevance",
            "limit": PAGE_SIZE,
            "offset": (page - 1) * PAGE_SIZE,
        }
        return filters, search
