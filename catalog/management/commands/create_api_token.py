from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print the API token of USERNAME, creating it if needed. Send it as `Authorization: Token <key>`; "
        "only staff users may write."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--staff", action="store_true", help="Also make the user staff, so the token can write.")
        parser.add_argument("--reset", action="store_true", help="Replace an existing token with a new one.")

    def handle(self, *args, username: str, staff: bool, reset: bool, **options) -> None:
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(
                f"No user named {username!r}. Create one first, e.g. `python manage.py createsuperuser`."
            ) from None
        if staff and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        if reset:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
        if not user.is_staff:
            self.stderr.write(f"{username} is not staff: this token can read but not write (add --staff).")
