"""Serializer fields that refuse oversized input before looking at its elements."""

from __future__ import annotations

from rest_framework import serializers


class BoundedListField(serializers.ListField):
    """A ListField that counts the items first: DRF validates every element before checking `max_length`, so
    a list of 333,000 ids cost 0.8 s of validation before its "no more than 100" (issue 17)."""

    def to_internal_value(self, data):
        if self.max_length is not None and isinstance(data, list | tuple) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length, length=len(data))
        return super().to_internal_value(data)
