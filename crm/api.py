"""Read-only API views of consumers (routes in crm/urls.py)."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from core.tenancy import TenantScopedQuerysetMixin
from crm.models import Consumer, RiskFlag
from crm.serializers import ConsumerSerializer

_LIVE_FLAGS = RiskFlag.objects.filter(status__in=[RiskFlag.Status.OPEN, RiskFlag.Status.CONFIRMED])


# Views carry extend_schema texts rather than docstrings: drf-spectacular publishes either, and these translate.
@extend_schema_view(
    get=extend_schema(
        summary=_("A consumer's tier and credit rating"),
        description=_(
            "The consumer's tier and its privileges, the latest credit rating with each indicator's"
            " contribution (largest effect first) and the open or confirmed risk flags. The phone number"
            " is always masked. Needs permission to view consumers."
        ),
    )
)
class ConsumerDetailView(TenantScopedQuerysetMixin, generics.RetrieveAPIView[Consumer]):
    queryset = Consumer.objects.select_related("tier", "rating").prefetch_related(
        Prefetch("risk_flags", queryset=_LIVE_FLAGS.order_by("-detected_at", "-pk"), to_attr="live_risk_flags")
    )
    serializer_class = ConsumerSerializer
    lookup_field = "external_id"
