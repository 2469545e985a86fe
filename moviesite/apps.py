from django.apps import AppConfig


class MoviesiteConfig(AppConfig):
    name = "moviesite"
    verbose_name = "Site"
