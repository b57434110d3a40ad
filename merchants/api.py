"""Read-only API views of merchants and their service scores (routes in merchants/urls.py)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from core.pagination import CursorPagination
from core.permissions import ModelPermissions
from core.tenancy import TenantScopedQuerysetMixin
from merchants.models import Merchant
from merchants.selectors import marketplace_medians, score_history, with_latest_score
from merchants.serializers import MerchantSerializer, ScoreHistoryQuerySerializer, ScoreRowSerializer


class MerchantPagination(CursorPagination):
    ordering = "code"  # unique, so the cursor is stable
    page_size_query_param = None  # type: ignore[assignment]  # pages of 50, no choice


# Views carry extend_schema texts rather than docstrings: drf-spectacular publishes either, and these translate.
@extend_schema_view(
    get=extend_schema(
        summary=_("List merchants"),
        description=_(
            "Merchants ordered by code, each with its latest service score and traffic weight, in pages of 50"
            " (follow the next link). Merchant staff see their own merchant only."
        ),
    )
)
class MerchantListView(TenantScopedQuerysetMixin, generics.ListAPIView[Merchant]):
    queryset = with_latest_score(Merchant.objects.all())
    serializer_class = MerchantSerializer
    pagination_class = MerchantPagination
    filterset_fields = ["category"]


@extend_schema_view(
    get=extend_schema(
        summary=_("One merchant"),
        description=_("A merchant with its latest service score and traffic weight."),
    )
)
class MerchantDetailView(TenantScopedQuerysetMixin, generics.RetrieveAPIView[Merchant]):
    queryset = with_latest_score(Merchant.objects.all())
    serializer_class = MerchantSerializer
    lookup_field = "code"


class CanViewScores(ModelPermissions):
    """Reading a merchant's score history needs the score permission, not only the merchant's."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and request.user.has_perm("merchants.view_merchantscore")


class ScoreHistoryView(TenantScopedQuerysetMixin, generics.GenericAPIView[Merchant]):
    queryset = Merchant.objects.all()
    permission_classes = [CanViewScores]
    lookup_field = "code"
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary=_("A merchant's score history"),
        description=_(
            "The merchant's latest daily scores, oldest first, each with the median service score of all"
            " merchants that day."
        ),
        parameters=[ScoreHistoryQuerySerializer],
        responses=ScoreRowSerializer(many=True),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        merchant = self.get_object()
        query = ScoreHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = score_history(merchant, query.validated_data["days"])
        medians = marketplace_medians(rows[0].day, rows[-1].day) if rows else {}
        return Response(ScoreRowSerializer(rows, many=True, context={"medians": medians}).data)
