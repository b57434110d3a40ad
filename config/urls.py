from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chat import views as chat_views
from core import views as core_views
from home import views as home_views
from tickets import views_survey

handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before the admin's own URLs: the index is the home of each role (home/), the app list below it.
    path("admin/", home_views.index, name="home-index"),
    path("admin/reports/", home_views.reports_page, name="reports"),
    path("admin/reports/csv/", home_views.reports_csv, name="reports-csv"),
    path("admin/", admin.site.urls),
    path("api/", include("crm.urls")),
    path("api/", include("merchants.urls")),
    path("api/", include("tickets.urls")),
    path("api/", include("chat.urls")),
    path("api/", include("qa.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A person reads the docs: signed out, the admin's login page, then back here.
    path(
        "api/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api-schema"), login_url="admin:login"),
        name="api-docs",
    ),
    path("favicon.ico", core_views.favicon),
    path("radio/", include("radio.urls")),
    path("chat/", chat_views.chat_demo, name="chat-demo"),
    # The consumer's satisfaction survey of a resolved phone or web ticket: a signed link, no login.
    path("survey/<str:token>/", views_survey.survey_page, name="ticket-survey"),
    path("", core_views.home, name="home"),
]
# Media is never served as plain files, not even in development: call recordings and the radio's
# audio are read through views that check who may hear them (core.files.ranged_file_response
# behind qa's admin and radio.views.audio).
