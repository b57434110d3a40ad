from __future__ import annotations

from django.urls import path, re_path

from radio import views

app_name = "radio"

DAY = r"(?P<day>\d{4}-\d{2}-\d{2})"

urlpatterns = [
    path("", views.digest_page, name="today"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("channels/", views.channels, name="channels"),
    path("nominate/", views.nominate, name="nominate"),
    path("items/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("items/<int:pk>/reply/", views.reply, name="reply"),
    path("audio/<int:pk>/", views.audio, name="audio"),
    re_path(rf"^{DAY}/$", views.digest_page, name="day"),
    re_path(rf"^{DAY}/(?P<code>[-a-zA-Z0-9_]+)/$", views.channel_page, name="channel"),
]
