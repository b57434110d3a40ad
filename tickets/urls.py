"""The tickets app's API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from tickets import api, api_returns

urlpatterns = [
    path("tickets/", api.TicketListView.as_view(), name="api-ticket-list"),
    path("tickets/<int:pk>/", api.TicketDetailView.as_view(), name="api-ticket-detail"),
    path("tickets/<int:pk>/reply/", api.TicketReplyView.as_view(), name="api-ticket-reply"),
    path("tickets/<int:pk>/transition/", api.TicketTransitionView.as_view(), name="api-ticket-transition"),
    path("refunds/", api.RefundListView.as_view(), name="api-refund-list"),
    path("refunds/<int:pk>/", api.RefundDetailView.as_view(), name="api-refund-detail"),
    path("returns/", api_returns.ReturnListView.as_view(), name="api-return-list"),
    path("returns/<int:pk>/", api_returns.ReturnDetailView.as_view(), name="api-return-detail"),
    path("returns/<int:pk>/scan/", api_returns.ReturnScanView.as_view(), name="api-return-scan"),
]
