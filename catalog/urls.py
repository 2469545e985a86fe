from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("movies/<int:pk>/", views.movie_detail, name="movie-detail"),
    path("movies/<int:pk>/favourite/", views.toggle_favourite, name="toggle-favourite"),
]
