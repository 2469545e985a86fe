"""The site's query-string and POST inputs, validated before any queryset verb sees them."""

from __future__ import annotations

from django import forms
from django.utils.http import url_has_allowed_host_and_scheme

from catalog import params
from catalog.models import Genre

YEAR_RANGE = {"min_value": params.YEAR_MIN, "max_value": params.YEAR_MAX}


class GenreChoiceField(forms.ModelMultipleChoiceField):
    """Genres carried by some visible film, at most MAX_GENRES of them (the API's cap), counted before any
    value is looked up."""

    def clean(self, value):
        if isinstance(value, list | tuple) and len(value) > params.MAX_GENRES:
            raise forms.ValidationError(f"Choose at most {params.MAX_GENRES} genres.", code="max_genres")
        return super().clean(value)


def public_genres():
    """A genre only hidden films carry is not shown to the public, not even as a filter."""
    return Genre.objects.filter(movies__hidden=False).distinct()


class SearchForm(forms.Form):
    """The home page's query string: the API's search parameters (catalog.params), plus the site's page."""

    q = forms.CharField(label="Search films", max_length=params.MAX_QUERY_LENGTH, required=False)
    mode = forms.ChoiceField(
        choices=list(params.SEARCH_MODES.items()),
        required=False,
        initial=params.DEFAULT_MODE,
        widget=forms.RadioSelect,
    )
    alpha = forms.FloatField(
        label="Hybrid balance",
        min_value=0,
        max_value=1,
        required=False,
        initial=params.DEFAULT_ALPHA,
        widget=forms.NumberInput(attrs={"type": "range", "min": "0", "max": "1", "step": "0.1"}),
    )
    genre = GenreChoiceField(
        queryset=Genre.objects.none(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple
    )
    decade = forms.TypedChoiceField(
        label="Decade",
        choices=[("", "Any decade"), *[(decade, f"{decade}s") for decade in params.DECADES]],
        coerce=int,
        empty_value=None,
        required=False,
    )
    year_min = forms.IntegerField(label="From year", **YEAR_RANGE, required=False)
    year_max = forms.IntegerField(label="To year", **YEAR_RANGE, required=False)
    person = forms.CharField(label="Director or actor", max_length=params.NAME_MAX_LENGTH, required=False)
    # The API's names for narrower filters; the page keeps them (hidden) when a link or the API's user sets them.
    director = forms.CharField(label="Director", max_length=params.NAME_MAX_LENGTH, required=False)
    actor = forms.CharField(label="Actor", max_length=params.NAME_MAX_LENGTH, required=False)
    language = forms.CharField(label="Language", max_length=params.LANGUAGE_MAX_LENGTH, required=False)
    ordering = forms.ChoiceField(label="Sort by", choices=list(params.ORDERING_LABELS.items()), required=False)
    page = forms.IntegerField(min_value=1, max_value=params.MAX_PAGE, required=False)

    def __init__(self, data=None, **kwargs) -> None:
        if data is not None and (not data.get("mode") or not data.get("alpha")):
            data = data.copy()
            # So the default mode's radio button shows as chosen and the slider sits where search() would.
            data["mode"] = data.get("mode") or params.DEFAULT_MODE
            data["alpha"] = data.get("alpha") or str(params.DEFAULT_ALPHA)
        super().__init__(data, **kwargs)
        self.fields["genre"].queryset = public_genres()

    def clean(self) -> dict:
        data = super().clean()
        if None not in (data.get("year_min"), data.get("year_max")) and data["year_min"] > data["year_max"]:
            raise forms.ValidationError("“From year” must not be after “To year”.")
        return data

    @property
    def has_filters(self) -> bool:
        """Whether any filter narrows the films."""
        return self.is_bound and any(self.data.get(name) for name in params.FILTERS)

    @property
    def opens_filters(self) -> bool:
        """Whether the filters panel opens: a filter or an ordering is set, or one of them is wrong."""
        ordered = self.is_bound and self.data.get("ordering", "relevance") not in ("", "relevance")
        wrong = self.is_bound and bool(self.errors.keys() - {"q", "mode", "alpha", "page"})
        return self.has_filters or ordered or wrong

    def search_arguments(self) -> tuple[dict, dict]:
        """(filters for `filter_by`, keyword arguments for `search`) from the cleaned form."""
        data = self.cleaned_data
        filters = params.filter_arguments(
            **{name: data.get(name) for name in params.FILTERS if name != "genre"},
            genre=[genre.slug for genre in data.get("genre") or []],
        )
        page = data.get("page") or 1
        alpha = data.get("alpha")
        search = {
            "mode": data.get("mode") or params.DEFAULT_MODE,
            "alpha": params.DEFAULT_ALPHA if alpha is None else alpha,
            "ordering": data.get("ordering") or params.DEFAULT_ORDERING,
            "limit": params.PAGE_SIZE,
            "offset": (page - 1) * params.PAGE_SIZE,
        }
        return filters, search


class SimilarForm(forms.Form):
    method = forms.ChoiceField(choices=list(params.SIMILAR_METHODS.items()), required=False)

    @property
    def method_name(self) -> str:
        return self.cleaned_data.get("method") or params.DEFAULT_SIMILAR_METHOD


class FavouriteForm(forms.Form):
    """Where to go back to after (un)marking a film as a favourite: a path on this site, else the film."""

    next = forms.CharField(max_length=2000, required=False)

    def next_url(self, request, fallback: str) -> str:
        url = self.cleaned_data.get("next", "") if self.is_valid() else ""
        safe = url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return url if url and safe else fallback
