"""API representations of tickets, their timelines and refund requests, and the inputs that change them.

Every row named in a request body (consumer, order, department, ticket) is looked up through
core.tenancy.scope, the same rule the admin applies to its foreign-key choices: merchant staff can
name only their own merchant's orders and tickets (and no consumer or department, which belong to no
merchant), and an unknown row and a forbidden one get the same answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.fields import StringField
from core.privacy import ConsumerTextField, masked_data
from core.serializers import ScopedPrimaryKeyRelatedField, ScopedSlugRelatedField, no_such
from core.tenancy import is_merchant_staff
from crm.models import Consumer, CreditTier, Order
from merchants.models import Merchant
from tickets.models import Department, RefundRequest, Ticket, TicketEvent
from tickets.refunds import explain


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username"]


class TicketEventSerializer(serializers.ModelSerializer[TicketEvent]):
    author: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("The author's username; null for an event the system wrote."),
    )

    body = ConsumerTextField(read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["id", "kind", "author_kind", "author", "body", "data", "created_at"]

    def to_representation(self, instance: TicketEvent) -> Any:
        # The event's data may quote the consumer (a question the bot missed): its strings masked too.
        shown = super().to_representation(instance)
        request = self.context.get("request")
        shown["data"] = masked_data(shown["data"], getattr(request, "user", None))
        return shown


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    consumer: serializers.SlugRelatedField[Consumer] = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True
    )
    consumer_name = serializers.CharField(source="consumer.display_name", read_only=True)
    department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    tier: serializers.SlugRelatedField[CreditTier] = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text=_("The consumer's tier when the ticket was opened."),
    )
    order: serializers.SlugRelatedField[Order] = serializers.SlugRelatedField(
        slug_field="order_no", read_only=True, allow_null=True
    )
    merchant: serializers.SlugRelatedField[Merchant] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    assignee = UserSerializer(read_only=True, allow_null=True)
    subject = ConsumerTextField(read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "subject",
            "kind",
            "channel",
            "status",
            "priority",
            "department",
            "assignee",
            "consumer",
            "consumer_name",
            "tier",
            "order",
            "merchant",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "sla_state",
            "first_response_due",
            "resolution_due",
            "escalated_at",
        ]


class TicketDetailSerializer(TicketSerializer):
    timeline = TicketEventSerializer(
        source="events", many=True, read_only=True, help_text=_("Every event of the ticket, oldest first.")
    )

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "timeline"]

    def to_representation(self, instance: Ticket) -> Any:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and is_merchant_staff(request.user):  # internal notes stay internal
            data["timeline"] = [event for event in data["timeline"] if event["kind"] != TicketEvent.Kind.NOTE]
        return data


class OpenTicketSerializer(serializers.Serializer[Any]):
    consumer = ScopedSlugRelatedField(
        slug_field="external_id",
        queryset=Consumer.objects.all(),
        error_messages=no_such(_("No such consumer.")),
        help_text=_("The consumer's external id."),
    )
    subject = StringField(max_length=200)
    body = StringField(required=False, allow_blank=True, default="", help_text=_("The first message."))
    kind = serializers.ChoiceField(choices=Ticket.Kind.choices, default=Ticket.Kind.CONSULTATION)
    channel = serializers.ChoiceField(choices=Ticket.Channel.choices, default=Ticket.Channel.WEB)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, default=Ticket.Priority.NORMAL)
    department = ScopedSlugRelatedField(
        slug_field="code",
        queryset=Department.objects.all(),
        error_messages=no_such(_("No such department.")),
        help_text=_("The department's code."),
    )
    order = ScopedSlugRelatedField(
        slug_field="order_no",
        queryset=Order.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=no_such(_("No such order.")),
        help_text=_("The order number; the order must be the consumer's."),
    )


class ReplySerializer(serializers.Serializer[Any]):
    body = StringField()
    internal = serializers.BooleanField(
        default=False, help_text=_("An internal note, which the consumer never sees, instead of a message.")
    )


class TransitionSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    note = StringField(required=False, allow_blank=True, default="")


class Reason(TypedDict):
    code: str
    params: dict[str, Any]


# A refund and a return read alike: the order, consumer, merchant and users by their keys, and the policy's
# reasons, as codes and explained by the policy's own ``explain`` (a subclass's ``explained``).
class DecisionSerializer(serializers.ModelSerializer[Any]):
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

    def get_reasons(self, decided: Any) -> list[Reason]:
        return [Reason(code=r["code"], params=r.get("params", {})) for r in decided.reasons]

    def get_explanations(self, decided: Any) -> list[str]:
        return self.explained(decided.reasons)

    def explained(self, reasons: list[dict[str, Any]]) -> list[str]:
        raise NotImplementedError


class RefundSerializer(DecisionSerializer):
    def explained(self, reasons: list[dict[str, Any]]) -> list[str]:
        return explain(reasons)

    class Meta:
        model = RefundRequest
        fields = [
            "id", "idempotency_key", "order", "consumer", "merchant", "ticket", "amount", "reason", "decision",
            "reasons", "explanations", "requested_by", "created_at", "decided_at", "decided_by",
        ]  # fmt: skip


# What asking for a refund and for a return share: the order by its number, a reason, the caller's retry key
# (in the body, or the Idempotency-Key header, which the view puts in the context) and the ticket it was asked
# in, which must be about that order. The policies reject a missing key.
class KeyedRequestSerializer(serializers.Serializer[Any]):
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
        help_text=_("The ticket the refund was asked for in; the decision is added to its timeline."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The body's key wins; the header is for clients that keep retry keys out of their payloads.
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


class RequestRefundSerializer(KeyedRequestSerializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": _("The amount must be more than 0.")},
        help_text=_('Yuan, as a decimal string with at most 2 decimal places, e.g. "120.00".'),
    )
