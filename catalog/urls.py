from django.contrib.auth import views as auth_views
from django.urls import path

from catalog import account_views, views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("movies/<int:pk>/", views.movie_detail, name="movie-detail"),
    path("movies/<int:pk>/favourite/", views.toggle_favourite, name="toggle-favourite"),
    path("movies/<int:pk>/rate/", account_views.rate, name="rate"),
    path("movies/<int:pk>/watchlist/", account_views.watchlist, name="watchlist"),
    path("accounts/signup/", account_views.signup, name="signup"),
    path("accounts/login/", account_views.SiteLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/ratings/", account_views.my_ratings, name="my-ratings"),
    path("me/ratings/upload/", account_views.upload_ratings, name="upload-ratings"),
]
