"""The API of instant returns (极速退货): request one, read them, and the carrier's first scan (routes in
tickets/urls.py). Each view parses its input, calls one function of ``tickets.returns`` and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import service_errors
from core.fields import StringField
from core.pagination import CursorPagination
from core.permissions import ModelPermissions
from core.serializers import ScopedPrimaryKeyRelatedField, no_such
from core.tenancy import TenantScopedQuerysetMixin
from core.users import Actor, actor
from tickets.api import DecidingListView, deciding_schema
from tickets.models import ReturnRequest, Ticket
from tickets.returns import explain, record_return_scan, request_return
from tickets.serializers import DecisionSerializer, KeyedRequestSerializer

RETURNS = ReturnRequest.objects.select_related("order", "consumer", "merchant", "requested_by", "decided_by")


# Serializers carry comments, not docstrings: drf-spectacular publishes docstrings in the schema.
class ReturnSerializer(DecisionSerializer):
    def explained(self, reasons: list[dict[str, Any]]) -> list[str]:
        return explain(reasons)

    class Meta:
        model = ReturnRequest
        fields = [
            "id", "idempotency_key", "order", "consumer", "merchant", "ticket", "amount", "reason", "decision",
            "reasons", "explanations", "refund_at_once", "return_address", "ship_by", "tracking_no", "scanned_at",
            "refund", "refunded_at", "requested_by", "created_at", "decided_at", "decided_by",
        ]  # fmt: skip


class RequestReturnSerializer(KeyedRequestSerializer):
    ticket = ScopedPrimaryKeyRelatedField(
        queryset=Ticket.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=no_such(_("No such ticket.")),
        help_text=_("The ticket the return was asked for in; the decision is added to its timeline."),
    )


class ScanSerializer(serializers.Serializer[Any]):
    tracking_no = StringField(max_length=40, help_text=_("The carrier's tracking number of the returned parcel."))


class ReturnPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class ScanPermission(ModelPermissions):
    """Recording a scan changes the return (and needs seeing it), although the request is a POST."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": ["%(app_label)s.view_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }


# Views carry extend_schema texts rather than docstrings: drf-spectacular publishes either, and these translate.
@extend_schema_view(
    get=extend_schema(
        summary=_("List return requests"),
        description=_(
            "Return requests, newest first, in pages of 50, with the policy's decision and its reasons. Merchant"
            " staff see their own merchant's only. Needs permission to view return requests."
        ),
    ),
    post=extend_schema(
        summary=_("Request a return"),
        description=_(
            "The policy decides at once. For a tier with instant returns the return is approved with the"
            " merchant's return address and a deadline to send the goods (ship_by); the refund is released"
            " on the carrier's first scan, or at once for a tier that refunds returns on approval. Otherwise"
            " it waits for review, or is rejected with its reasons. Needs permission to add return requests."
            "\n\nRetries are safe: send an idempotency key (in the body or the Idempotency-Key header). The"
            " same key for the same order answers 200 with the first decision; for another order, 409."
        ),
        **deciding_schema(RequestReturnSerializer, ReturnSerializer, _("The key was used for another order.")),
    ),
)
class ReturnListView(TenantScopedQuerysetMixin, DecidingListView[ReturnRequest]):
    queryset = RETURNS
    form, output = RequestReturnSerializer, ReturnSerializer
    filterset_fields = ["decision"]
    pagination_class = ReturnPagination

    def decide(self, data: dict[str, Any], user: Actor, now: datetime) -> ReturnRequest:
        return request_return(data["order"], data["reason"], key=data["idempotency_key"], requested_by=user,
                              ticket=data["ticket"], now=now)  # fmt: skip


@extend_schema_view(
    get=extend_schema(
        summary=_("One return request"),
        description=_("A return request: the decision and its reasons, where to send it by when, its scan and refund."),
    )
)
class ReturnDetailView(TenantScopedQuerysetMixin, generics.RetrieveAPIView[ReturnRequest]):
    queryset = RETURNS
    serializer_class = ReturnSerializer


class ReturnScanView(TenantScopedQuerysetMixin, generics.GenericAPIView[ReturnRequest]):
    queryset = RETURNS
    permission_classes = [ScanPermission]
    serializer_class = ScanSerializer
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary=_("The carrier's scan of a returned parcel"),
        description=_(
            "For the carrier's integration (a user with permission to change return requests). The first scan"
            " of an approved return marks the goods returned and releases the refund; later scans of the same"
            " parcel change nothing (200 with the return as it is); another tracking number, or a return that"
            " is not approved, is a 400."
        ),
        request=ScanSerializer,
        responses={200: ReturnSerializer, 400: OpenApiResponse(description=_("Invalid input or state."))},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            record_return_scan(found, tracking_no=form.validated_data["tracking_no"], by=actor(request))
        return Response(ReturnSerializer(RETURNS.get(pk=found.pk), context=self.get_serializer_context()).data)
