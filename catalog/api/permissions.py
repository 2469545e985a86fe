from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions


class IsStaffOrReadOnly(BasePermission):
    """Everyone reads; only staff users (by token, or by session in the browsable API) write.

    An anonymous write is answered 401 (DRF turns a refusal without credentials into NotAuthenticated), a
    signed-in user who is not staff 403.
    """

    message = "Only staff users may change the catalog."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)


class ModelPermissionsOrReadOnly(DjangoModelPermissions):
    """Everyone reads; a write needs what the admin would ask for the same change: a staff user with the
    model's add, change or delete permission (issue 17: `is_staff` alone let a user the admin refuses write
    through the API)."""

    authenticated_users_only = False
    message = IsStaffOrReadOnly.message

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            return True  # no model behind the view (search, autocomplete): it answers 405 to what it lacks
        if not super().has_permission(request, view):
            self.message = "Your account may not make this change to films (ask for the permission in the admin)."
            return False
        return True
