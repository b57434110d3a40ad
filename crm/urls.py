"""The crm app's API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from crm import api

urlpatterns = [
    path("consumers/<str:external_id>/", api.ConsumerDetailView.as_view(), name="api-consumer-detail"),
]
