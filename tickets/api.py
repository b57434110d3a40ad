"""API views of tickets and refund requests (routes in tickets/urls.py).

Each view parses its input, calls one service (tickets.services, tickets.refunds) and answers with
the result; the services' ValidationErrors become 400s naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import django_filters
from django.core.validators import RegexValidator
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import service_errors
from core.exceptions import Conflict
from core.filters import StrictFilterSet
from core.pagination import CursorPagination
from core.permissions import ModelPermissions
from core.tenancy import TenantScopedQuerysetMixin
from core.users import Actor, actor
from tickets.models import RefundRequest, ReturnRequest, Ticket, TicketEvent
from tickets.refunds import KeyReused, request_refund
from tickets.serializers import (
    OpenTicketSerializer,
    RefundSerializer,
    ReplySerializer,
    RequestRefundSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TransitionSerializer,
)
from tickets.services import add_message, open_ticket, transition_ticket

AGENT = TicketEvent.Author.AGENT
TICKET_LIST = Ticket.objects.select_related("consumer", "tier", "department", "assignee", "merchant", "order")
TICKET_DETAIL = TICKET_LIST.prefetch_related(
    Prefetch("events", queryset=TicketEvent.objects.select_related("author").order_by("created_at", "pk"))
)
_Decided = TypeVar("_Decided", RefundRequest, ReturnRequest)
REFUNDS = RefundRequest.objects.select_related("order", "consumer", "merchant", "requested_by", "decided_by")


def ticket_detail(pk: int, request: Request) -> dict[str, Any]:
    # Read back unscoped: the caller has just acted on this ticket through a scoped lookup.
    return TicketDetailSerializer(TICKET_DETAIL.get(pk=pk), context={"request": request}).data


class ChangeTicketPermission(ModelPermissions):
    """Replying to a ticket or moving it on changes it (and needs seeing it), although the request is a POST."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": ["%(app_label)s.view_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }


class TicketFilter(StrictFilterSet):
    department = django_filters.CharFilter(field_name="department__code", help_text=_("Department code."))
    merchant = django_filters.CharFilter(field_name="merchant__code", help_text=_("Merchant code."))
    consumer = django_filters.CharFilter(field_name="consumer__external_id", help_text=_("Consumer external id."))
    tier = django_filters.CharFilter(field_name="tier__name", help_text=_("Credit tier name."))
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        validators=[RegexValidator(r"^(me|none|\d{1,18})$", _("Give a user id, “me” or “none”."))],
        help_text=_("A user id, “me” for your own tickets, or “none” for unassigned ones."),
    )

    class Meta:
        model = Ticket
        fields = ["status", "kind", "channel", "priority", "sla_state"]

    def filter_assignee(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == "me":
            return queryset.filter(assignee_id=self.request.user.pk if self.request else None)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=int(value))


class TicketPagination(CursorPagination):
    ordering = ("-updated_at", "-id")


class RefundPagination(CursorPagination):
    ordering = ("-created_at", "-id")


# Views carry extend_schema texts rather than docstrings: drf-spectacular publishes either, and these translate.
@extend_schema_view(
    get=extend_schema(
        summary=_("List tickets"),
        description=_(
            "Tickets, most recently active first, in pages of 50 (page_size up to 100; follow the next link)."
            " Merchant staff see their own merchant's tickets only. Needs permission to view tickets."
        ),
    ),
    post=extend_schema(
        summary=_("Open a ticket"),
        description=_(
            "Open a ticket for a consumer on their behalf, as the requesting agent. The optional order must be"
            " the consumer's. Needs permission to add tickets."
        ),
        request=OpenTicketSerializer,
        responses={201: TicketDetailSerializer},
    ),
)
class TicketListView(TenantScopedQuerysetMixin, generics.ListCreateAPIView[Ticket]):
    queryset = TICKET_LIST
    filterset_class = TicketFilter
    pagination_class = TicketPagination

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return OpenTicketSerializer if self.request.method == "POST" else TicketSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            ticket = open_ticket(author_kind=AGENT, author=request.user, **form.validated_data)
        return Response(ticket_detail(ticket.pk, request), status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary=_("One ticket with its timeline"),
        description=_("A ticket, its SLA targets and state, and every event of its timeline, oldest first."),
    )
)
class TicketDetailView(TenantScopedQuerysetMixin, generics.RetrieveAPIView[Ticket]):
    queryset = TICKET_DETAIL
    serializer_class = TicketDetailSerializer


class TicketActionView(TenantScopedQuerysetMixin, generics.GenericAPIView[Ticket]):
    queryset = Ticket.objects.all()
    permission_classes = [ChangeTicketPermission]
    filter_backends: list[Any] = []
    pagination_class = None


class TicketReplyView(TicketActionView):
    serializer_class = ReplySerializer

    @extend_schema(
        summary=_("Reply to a ticket"),
        description=_(
            "A message to the consumer, or an internal note, from the requesting agent. An agent's first"
            " message stops the first-response clock. Answers with the ticket and its timeline. Needs"
            " permission to view and change tickets."
        ),
        responses={201: TicketDetailSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            add_message(ticket, author_kind=AGENT, author=request.user, **form.validated_data)
        return Response(ticket_detail(ticket.pk, request), status=status.HTTP_201_CREATED)


class TicketTransitionView(TicketActionView):
    serializer_class = TransitionSerializer

    @extend_schema(
        summary=_("Change a ticket's status"),
        description=_(
            "Move the ticket to another status, with an optional note on the timeline. A transition the"
            " workflow does not allow is refused with a 400 explaining why under “status”. Answers with the"
            " ticket and its timeline. Needs permission to view and change tickets. A complaint or dispute"
            " about a shop is settled by the platform: its merchant staff may reply, but setting it to pending,"
            " resolved or closed is refused with a 403."
        ),
        responses={200: TicketDetailSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_object()
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        with service_errors():
            transition_ticket(ticket, data["status"], by=actor(request), note=data["note"])
        return Response(ticket_detail(ticket.pk, request))


def deciding_schema(form: type[Any], output: type[Any], conflict: Any) -> dict[str, Any]:
    """The OpenAPI parts a deciding POST shares: its body, the Idempotency-Key header and its four answers."""
    header = OpenApiParameter(
        "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
        description=_("Used when the body has no idempotency_key."),
    )  # fmt: skip
    return {
        "request": form,
        "parameters": [header],
        "responses": {
            201: OpenApiResponse(output, description=_("A new decision.")),
            200: OpenApiResponse(output, description=_("The key was used before: its decision.")),
            400: OpenApiResponse(description=_("Invalid input; the messages name the fields.")),
            409: OpenApiResponse(description=conflict),
        },
    }


# A list whose POST asks a policy for a decision under the caller's retry key (tickets.refunds, tickets.returns):
# ``form`` reads the request, ``decide`` calls the one service, ``output`` shows the decision. A new decision
# answers 201, a replay of the key its first decision with 200, the key reused for something else 409.
# (A comment, not a docstring: drf-spectacular would publish a docstring as every subclass's description.)
class DecidingListView(generics.ListCreateAPIView[_Decided]):
    form: type[serializers.BaseSerializer[Any]]
    output: type[serializers.BaseSerializer[Any]]

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return self.form if self.request.method == "POST" else self.output

    def decide(self, data: dict[str, Any], user: Actor, now: datetime) -> _Decided:
        raise NotImplementedError

    def get_serializer_context(self) -> dict[str, Any]:
        header = self.request.headers.get("Idempotency-Key")
        return {**super().get_serializer_context(), "idempotency_key_header": header}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        now = timezone.now()
        with service_errors():
            try:
                decided = self.decide(form.validated_data, actor(request), now)
            except KeyReused as error:
                raise Conflict(error.messages[0], serializers.as_serializer_error(error)) from error
        # A decision made by this call carries this call's time; a replay returns the earlier one.
        body = self.output(self.get_queryset().get(pk=decided.pk), context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_200_OK if decided.created_at != now else status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary=_("List refund requests"),
        description=_(
            "Refund requests, newest first, in pages of 50, with the policy's decision and its reasons."
            " Merchant staff see their own merchant's only. Needs permission to view refund requests."
        ),
    ),
    post=extend_schema(
        summary=_("Request a refund"),
        description=_(
            "The policy decides at once: refunded instantly, waiting for manual review, or rejected, with"
            " its reasons as codes and explained in the request's language.\n\n"
            "A consumer is not a user of this API: refunds are requested on the consumer's behalf by trusted"
            " callers, an agent or a platform integration signed in as an agent-level user, who are"
            " recorded as the requester. Needs permission to add refund requests.\n\n"
            "Retries are safe: send an idempotency key (in the body or the Idempotency-Key header). The"
            " same key for the same order and amount answers 200 with the first decision, unchanged;"
            " the same key for another order or amount is refused with 409. Keys are the requester's own:"
            " another user sending the same key makes a request of their own (201, decided by the policy)"
            " and never sees the first one."
        ),
        **deciding_schema(
            RequestRefundSerializer, RefundSerializer, _("The key was used for another order or amount.")
        ),
    ),
)
class RefundListView(TenantScopedQuerysetMixin, DecidingListView[RefundRequest]):
    queryset = REFUNDS
    form, output = RequestRefundSerializer, RefundSerializer
    filterset_fields = ["decision"]
    pagination_class = RefundPagination

    def decide(self, data: dict[str, Any], user: Actor, now: datetime) -> RefundRequest:
        return request_refund(data["order"], data["amount"], data["reason"], key=data["idempotency_key"],
                              requested_by=user, ticket=data["ticket"], now=now)  # fmt: skip


@extend_schema_view(
    get=extend_schema(
        summary=_("One refund request"),
        description=_("A refund request with the policy's decision, its reasons and who decided it when."),
    )
)
class RefundDetailView(TenantScopedQuerysetMixin, generics.RetrieveAPIView[RefundRequest]):
    queryset = REFUNDS
    serializer_class = RefundSerializer
