from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsStaffOrReadOnly(BasePermission):
    """Everyone reads; only staff users (by token, or by session in the browsable API) write.

    An anonymous write is answered 401 (DRF turns a refusal without credentials into NotAuthenticated), a
    signed-in user who is not staff 403.
    """

    message = "Only staff users may change the catalog."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)
