"""The qa app's API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from qa import api

urlpatterns = [
    path("recordings/", api.RecordingListView.as_view(), name="api-recording-list"),
    path("recordings/<int:pk>/", api.RecordingDetailView.as_view(), name="api-recording-detail"),
    path("recordings/<int:pk>/retry/", api.RecordingRetryView.as_view(), name="api-recording-retry"),
    path("transcripts/import/", api.TranscriptImportView.as_view(), name="api-transcript-import"),
]
