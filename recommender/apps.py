from __future__ import annotations

from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recommender"

    def ready(self) -> None:
        # The recommender keeps its film features current by listening to the catalog's announcements.
        from catalog.changes import catalog_imported, films_changed
        from recommender.receivers import refresh_catalog_features, refresh_co_liked, refresh_film_features

        films_changed.connect(refresh_film_features, dispatch_uid="recommender.refresh_film_features")
        catalog_imported.connect(refresh_catalog_features, dispatch_uid="recommender.refresh_catalog_features")
        catalog_imported.connect(refresh_co_liked, dispatch_uid="recommender.refresh_co_liked")
