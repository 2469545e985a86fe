"""Inputs of the account pages: a film's stars, and an uploaded ratings export (size checked before reading)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from catalog.models import STAR_STEPS
from catalog.ratings import parse_stars
from catalog.user_ratings import MAX_UPLOAD_BYTES


def star_label(stars: Decimal) -> str:
    """'3½ stars', '½ star'."""
    whole, half = int(stars), stars % 1 != 0
    text = ("" if whole == 0 and half else str(whole)) + ("½" if half else "")
    return f"{text} star{'s' if stars > 1 else ''}"


STAR_CHOICES = [("", "No rating"), *[(str(stars.quantize(Decimal("0.1"))), star_label(stars)) for stars in STAR_STEPS]]


class RatingForm(forms.Form):
    """A film's stars; empty removes the rating."""

    stars = forms.CharField(label="Your rating", max_length=10, required=False)  # "4", "4.0" and "4.5" alike
    next = forms.CharField(max_length=2000, required=False)

    def clean_stars(self) -> Decimal | None:
        value = self.cleaned_data["stars"]
        try:
            return parse_stars(value) if value else None
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class RatingsUploadForm(forms.Form):
    file = forms.FileField(
        label="Ratings export (CSV)",
        help_text="Letterboxd's ratings.csv or IMDb's ratings export; up to 5 MB and 20,000 films.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:  # refused before a byte is read
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        return upload

    def clean(self) -> dict:
        data = super().clean()
        if upload := data.get("file"):
            data["data"] = upload.read()
        return data
