"""The API of instant returns (极速退货): request one, read them, and the carrier's first scan (routes in
tickets/urls.py). Each view parses its input, calls one function of ``tickets.returns`` and answers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import service_errors
from core.exceptions import Conflict
from core.fields import StringField
from core.pagination import CursorPagination
from core.permissions import ModelPermissions
from core.serializers import ScopedPrimaryKeyRelatedField, ScopedSlugRelatedField, no_such
from core.tenancy import TenantScopedQuerysetMixin
from crm.models import Consumer, Order
from merchants.models import Merchant
from tickets.models import ReturnRequest, Ticket
from tickets.refunds import KeyReused
from tickets.returns import explain, record_return_scan, request_return
from tickets.serializers import Reason

RETURNS = ReturnRequest.objects.select_related("order", "consumer", "merchant", "requested_by", "decided_by")


# Serializers carry comments, not docstrings: drf-spectacular publishes docstrings in the schema.
class ReturnSerializer(serializers.ModelSerializer[ReturnRequest]):
    order: serializers.SlugRelatedField[Order] = serializers.SlugRelatedField(slug_field="order_no", read_only=True)
    consumer: serializers.SlugRelatedField[Consumer] = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True
    )
    merchant: serializers.SlugRelatedField[Merchant] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    decided_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    reasons = serializers.SerializerMethodField(help_text=_("The policy's reasons, as codes with their parameters."))
    explanations = serializers.SerializerMethodField(help_text=_("The reasons in the request's language."))

    class Meta:
        model = ReturnRequest
        fields = [
            "id", "idempotency_key", "order", "consumer", "merchant", "ticket", "amount", "reason", "decision",
            "reasons", "explanations", "refund_at_once", "return_address", "ship_by", "tracking_no", "scanned_at",
            "refund", "refunded_at", "requested_by", "created_at", "decided_at", "decided_by",
        ]  # fmt: skip

    def get_reasons(self, request: ReturnRequest) -> list[Reason]:
        return [Reason(code=r["code"], params=r.get("params", {})) for r in request.reasons]

    def get_explanations(self, request: ReturnRequest) -> list[str]:
        return explain(request.reasons)


class RequestReturnSerializer(serializers.Serializer[Any]):
    order = ScopedSlugRelatedField(
        slug_field="order_no",
        queryset=Order.objects.all(),
        error_messages=no_such(_("No such order.")),
        help_text=_("The order number."),
    )
    reason = StringField(max_length=200)
    idempotency_key = StringField(
        max_length=64,
        required=False,
        help_text=_("Retrying with the same key returns the same decision. Or send the Idempotency-Key header."),
    )
    ticket = ScopedPrimaryKeyRelatedField(
        queryset=Ticket.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=no_such(_("No such ticket.")),
        help_text=_("The ticket the return was asked for in; the decision is added to its timeline."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The body's key wins, as for refunds; tickets.returns.request_return rejects a missing key.
        key = attrs.get("idempotency_key", "")
        header = self.context.get("idempotency_key_header")
        if not key and header:
            try:
                key = self.fields["idempotency_key"].run_validation(header)
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"idempotency_key": error.detail}) from error
        ticket = attrs.get("ticket")
        if ticket is not None and ticket.order_id != attrs["order"].pk:
            raise serializers.ValidationError({"ticket": _("This ticket is about another order.")})
        return {**attrs, "idempotency_key": key}


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
        request=RequestReturnSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=_("Used when the body has no idempotency_key."),
            )
        ],
        responses={
            201: OpenApiResponse(ReturnSerializer, description=_("A new decision.")),
            200: OpenApiResponse(ReturnSerializer, description=_("The key was used before: its decision.")),
            400: OpenApiResponse(description=_("Invalid input; the messages name the fields.")),
            409: OpenApiResponse(description=_("The key was used for another order.")),
        },
    ),
)
class ReturnListView(TenantScopedQuerysetMixin, generics.ListCreateAPIView[ReturnRequest]):
    queryset = RETURNS
    filterset_fields = ["decision"]
    pagination_class = ReturnPagination

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return RequestReturnSerializer if self.request.method == "POST" else ReturnSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "idempotency_key_header": self.request.headers.get("Idempotency-Key"),
        }

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data, now = form.validated_data, timezone.now()
        with service_errors():
            try:
                made = request_return(data["order"], data["reason"], key=data["idempotency_key"],
                                      requested_by=request.user, ticket=data["ticket"], now=now)  # fmt: skip
            except KeyReused as error:
                raise Conflict(error.messages[0], serializers.as_serializer_error(error)) from error
        body = ReturnSerializer(RETURNS.get(pk=made.pk), context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_200_OK if made.created_at != now else status.HTTP_201_CREATED)


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
            record_return_scan(found, tracking_no=form.validated_data["tracking_no"], by=request.user)
        return Response(ReturnSerializer(RETURNS.get(pk=found.pk), context=self.get_serializer_context()).data)
