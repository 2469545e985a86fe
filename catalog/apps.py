from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self) -> None:
        # The database server's requirements (pgvector >= 0.8, pg_trgm, unaccent) as a system check.
        from moviesite import server_requirements  # noqa: F401
