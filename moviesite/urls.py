from django.contrib import admin
from django.urls import include, path

from moviesite.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("catalog.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("catalog.urls")),
]
