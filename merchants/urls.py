"""The merchants app's API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from merchants import api

urlpatterns = [
    path("merchants/", api.MerchantListView.as_view(), name="api-merchant-list"),
    path("merchants/<str:code>/", api.MerchantDetailView.as_view(), name="api-merchant-detail"),
    path("import/<str:kind>/", api.ImportView.as_view(), name="api-import"),
    path("merchants/<str:code>/scores/", api.ScoreHistoryView.as_view(), name="api-merchant-scores"),
    path("merchants/<str:code>/explanation/", api.ExplanationView.as_view(), name="api-merchant-explanation"),
]
