from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

FILM_PERMISSIONS = ("add_movie", "change_movie", "delete_movie")


class Command(BaseCommand):
    help = (
        "Print the API token of USERNAME, creating it if needed. Send it as `Authorization: Token <key>`; "
        "only staff users with the film permissions may write."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--staff",
            action="store_true",
            help="Also make the user staff with permission to add, change and delete films, so the token can write.",
        )
        parser.add_argument("--reset", action="store_true", help="Replace an existing token with a new one.")

    def handle(self, *args, username: str, staff: bool, reset: bool, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(
                f"No user named {username!r}. Create one first, e.g. `python manage.py createsuperuser`."
            ) from None
        if staff:
            if not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
            # API writes ask for the same model permissions as the admin.
            user.user_permissions.add(
                *Permission.objects.filter(content_type__app_label="catalog", codename__in=FILM_PERMISSIONS)
            )
        if reset:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
        if not user.is_staff:
            self.stderr.write(f"{username} is not staff: this token can read but not write (add --staff).")
        elif not User.objects.get(pk=user.pk).has_perms([f"catalog.{name}" for name in FILM_PERMISSIONS]):
            self.stderr.write(f"{username} lacks some film permissions: writes may be refused (add --staff).")
