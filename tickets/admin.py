from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.paginator import CappedPaginator
from core.tenancy import TenantScopedAdmin, is_merchant_staff, scope
from crm.models import Order, RiskFlag
from tickets import refunds, services
from tickets.models import (
    OPEN_STATUSES,
    AgentProfile,
    CannedReply,
    Department,
    RefundRequest,
    SLAPolicy,
    Ticket,
    TicketEvent,
)

TIMELINE_LIMIT = 200  # events shown on a ticket page; a longer history is summarised


class QueueFilter(admin.SimpleListFilter):
    """The agent's default view is their own open tickets; one click shows the department's or everyone's."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("unassigned", _("Unassigned open tickets")),
            ("open", _("All open tickets")),
            ("all", _("All tickets")),
        ]

    def choices(self, changelist: ChangeList) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("My open tickets"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value()
        if value == "all":
            return queryset
        if value == "open":
            return queryset.filter(status__in=OPEN_STATUSES)
        if value == "unassigned":
            return queryset.filter(status__in=OPEN_STATUSES, assignee=None)
        return queryset.filter(services.my_open_tickets_q(request.user))


class MerchantCodeFilter(admin.SimpleListFilter):
    """A merchant by its code: a list of every merchant would be far too long."""

    title = _("merchant")
    parameter_name = "merchant_code"
    template = "admin/tickets/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # the filter renders an input box; Django needs a lookup to show it

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        code = self.value()
        if not code:
            return queryset
        # PostgreSQL refuses text with NUL in a query (a 500); no merchant's code holds one.
        return queryset.none() if "\x00" in code else queryset.filter(merchant__code=code)


@admin.register(Ticket)
class TicketAdmin(TenantScopedAdmin):
    list_display = (
        "number", "subject", "consumer_name", "tier", "kind", "status", "priority_badge", "department", "assignee",
        "time_left", "updated_at",
    )  # fmt: skip
    list_display_links = ("number", "subject")
    list_filter = (QueueFilter, "status", "kind", "department", "tier", "sla_state", "priority", MerchantCodeFilter)
    search_fields = ("id",)  # see get_search_results: exact, indexed lookups only
    search_help_text = _("Ticket number, consumer external id or order number.")
    list_select_related = ("consumer", "tier", "department", "assignee")
    show_full_result_count = False
    ordering = ("-updated_at", "-id")
    actions = ["assign_to_me", "put_back_in_queue"]
    list_per_page = 50
    paginator = CappedPaginator
    # Sorting a million rows by a joined column would scan them all: these have indexes.
    sortable_by = ("number", "updated_at")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str) -> Any:
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        match = Q(consumer__external_id=term) | Q(order__order_no=term)
        if term.isdigit() and len(term) < 19:
            match |= Q(pk=int(term))
        return queryset.filter(match), False

    @admin.display(description=_("#"), ordering="id")
    def number(self, obj: Ticket) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("consumer"), ordering="consumer__display_name")
    def consumer_name(self, obj: Ticket) -> str:
        return obj.consumer.display_name

    @admin.display(description=_("priority"), ordering="priority")
    def priority_badge(self, obj: Ticket) -> str:
        return format_html('<span class="badge p{}">{}</span>', obj.priority, obj.get_priority_display())

    @admin.display(description=_("SLA"), ordering="resolution_due")
    def time_left(self, obj: Ticket) -> str:
        return sla_badge(obj, timezone.now())

    # --- list actions ---------------------------------------------------------------------------

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._each(request, queryset, lambda t: services.assign_ticket(t, request.user, by=request.user))

    @admin.action(description=_("Put back in the queue"), permissions=["change"])
    def put_back_in_queue(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._each(request, queryset, lambda t: services.assign_ticket(t, None, by=request.user))

    def _each(self, request: HttpRequest, queryset: QuerySet[Ticket], act: Any) -> None:
        apply_to_each(
            self, request, queryset, act, lambda n: ngettext("%d ticket updated.", "%d tickets updated.", n) % n
        )

    # --- the ticket page: timeline, reply box, the consumer, actions ---------------------------

    class Media:
        css = {"all": ["tickets/desk.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets are opened by consumers, the bot, calls and the API

    def get_urls(self) -> list[Any]:
        act = self.admin_site.admin_view(self.act_view)
        availability = self.admin_site.admin_view(self.availability_view)
        return [
            path("<int:pk>/act/", act, name="tickets_ticket_act"),
            path("availability/", availability, name="tickets_ticket_availability"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        profile = AgentProfile.objects.filter(user=request.user.pk or 0).first()
        extra = {"agent_profile": profile, **(extra_context or {})}
        return super().changelist_view(request, extra)

    def availability_view(self, request: HttpRequest) -> HttpResponse:
        """An agent marks themself available (new tickets are routed to them) or away."""
        if request.method != "POST" or not self.has_change_permission(request) or is_merchant_staff(request.user):
            raise PermissionDenied
        profile = services.set_availability(request.user, request.POST.get("available") == "1")
        if profile.available:
            self.message_user(request, _("You are available: new tickets of your department come to you."))
        else:
            self.message_user(request, _("You are away: no new tickets are routed to you."))
        return HttpResponseRedirect(reverse("admin:tickets_ticket_changelist"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        ticket = self._get_visible(request, object_id)
        can_change = self.has_change_permission(request, ticket)
        merchant_side = is_merchant_staff(request.user)
        timeline = TicketEvent.objects.filter(ticket=ticket).select_related("author").order_by("-created_at", "-id")
        if merchant_side:  # internal notes are the marketplace's, not the merchant's
            timeline = timeline.exclude(kind=TicketEvent.Kind.NOTE)
        events = list(timeline[:TIMELINE_LIMIT])[::-1]
        for event in events:
            label_event(event)
        order = ticket.order
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"#{ticket.pk} {ticket.subject}",
            "ticket": ticket,
            "events": events,
            "can_change": can_change,
            "transitions": sorted(services.TRANSITIONS[ticket.status]),
            "status_labels": dict(Ticket.Status.choices),
            "canned": [
                (reply.title, services.render_canned_reply(reply, ticket, request.user))
                for reply in CannedReply.objects.filter(
                    Q(department__isnull=True) | Q(department=ticket.department_id), active=True
                )
            ],
            # Departments are the marketplace's teams: merchant staff are offered none (core.tenancy).
            "departments": scope(Department.objects.exclude(pk=ticket.department_id), request.user),
            "flags": RiskFlag.objects.filter(consumer=ticket.consumer_id, status__in=["open", "confirmed"])
            if request.user.has_perm("crm.view_riskflag")
            else [],
            "show_consumer": request.user.has_perm("crm.view_consumer"),
            "can_resolve_dispute": not merchant_side,
            "order": order,
            "refunds": RefundRequest.objects.filter(order=order).order_by("-created_at") if order else [],
            "refund_key": uuid.uuid4().hex,
            "sla": sla_badge(ticket, timezone.now()),
            "can_refund": request.user.has_perm("tickets.add_refundrequest") and order is not None,
            "is_dispute": ticket.kind == Ticket.Kind.DISPUTE and order is not None,
            "radio_nominate_url": _radio_nominate_url(request, ticket),
        }
        return TemplateResponse(request, "admin/tickets/ticket/desk.html", context)

    def _get_visible(self, request: HttpRequest, object_id: str | int) -> Ticket:
        if not str(object_id).isascii() or not str(object_id).isdigit():
            raise Http404  # the change URL takes any text; an id that is no number is no ticket
        ticket = get_object_or_404(
            self.get_queryset(request).select_related("consumer__tier", "order", "merchant", "department", "assignee"),
            pk=object_id,
        )
        if not self.has_view_permission(request, ticket):
            raise PermissionDenied
        return ticket

    def act_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Every button on the ticket page posts here; each calls one service."""
        ticket = self._get_visible(request, pk)
        if request.method != "POST" or not self.has_change_permission(request, ticket):
            raise PermissionDenied
        action = request.POST.get("action", "")
        if action == "dispute" and is_merchant_staff(request.user):
            raise PermissionDenied  # a merchant does not judge its own dispute
        try:
            message = self._act(request, ticket, action)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    def _act(self, request: HttpRequest, ticket: Ticket, action: str) -> str:
        # NUL characters cannot be stored in PostgreSQL text: drop them rather than fail.
        post = {key: str(value).replace("\x00", "") for key, value in request.POST.items()}
        user = request.user
        if action in ("reply", "note"):
            services.add_message(ticket, body=post.get("body", ""), author_kind=TicketEvent.Author.AGENT, author=user,
                                 internal=action == "note")  # fmt: skip
            return str(_("Reply sent.") if action == "reply" else _("Note added."))
        if action == "assign_me":
            services.assign_ticket(ticket, user, by=user)
            return str(_("The ticket is yours."))
        if action == "transfer":
            department = scope(Department.objects.all(), user).filter(pk=_int_or_0(post.get("department"))).first()
            if department is None:
                raise ValidationError(_("Choose a department."))
            services.transfer_ticket(ticket, department, by=user)
            return str(_("Transferred to %(department)s.") % {"department": department.name})
        if action == "status":
            services.transition_ticket(ticket, post.get("status", ""), by=user, note=post.get("note", ""))
            return str(_("Status changed."))
        if action == "escalate":
            services.escalate_ticket(ticket, reason="agent", by=user)
            return str(_("Escalated."))
        if action == "dispute":
            services.resolve_dispute(ticket, post.get("outcome", ""), by=user)
            return str(_("Dispute resolved; its outcome is recorded for the credit rating."))
        if action == "refund":
            if not user.has_perm("tickets.add_refundrequest") or ticket.order is None:
                raise PermissionDenied
            try:
                amount = Decimal(post.get("amount", ""))
            except InvalidOperation:
                raise ValidationError(_("Enter an amount in yuan, such as 99.00.")) from None
            request_ = refunds.request_refund(
                ticket.order, amount, post.get("reason", "") or str(_("Requested by an agent")),
                key=post.get("key", ""), requested_by=user, ticket=ticket,
            )  # fmt: skip
            decision = RefundRequest.Decision(request_.decision).label
            return f"{decision}: {' '.join(refunds.explain(request_.reasons))}"
        raise ValidationError(_("Unknown action."))


def _int_or_0(value: str | None) -> int:
    """A posted id; anything that is not one (text, a number past bigint) is 0, which matches no row."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else 0


def _radio_nominate_url(request: HttpRequest, ticket: Ticket) -> str | None:
    """The radio's nominate page for this ticket (radio is a higher app: found by URL name, never imported)."""
    if not request.user.has_perm("radio.add_nomination"):
        return None
    try:
        base = reverse("radio:nominate")
    except NoReverseMatch:
        return None
    return f"{base}?{urlencode({'source': 'ticket', 'id': ticket.pk, 'next': request.get_full_path()})}"


STATUS_LABELS = dict(Ticket.Status.choices)
PRIORITY_LABELS = dict(Ticket.Priority.choices)
DECISION_LABELS = dict(RefundRequest.Decision.choices)
DISPUTE_LABELS = dict(Order.Dispute.choices)
SLA_LABELS = dict(Ticket.SLAState.choices)


def label_event(event: TicketEvent) -> None:
    """Codes stored on the timeline, put into words in the reader's language."""
    data = event.data
    if event.kind == TicketEvent.Kind.STATUS:
        event.from_label = STATUS_LABELS.get(data.get("from"), data.get("from"))  # type: ignore[attr-defined]
        event.to_label = STATUS_LABELS.get(data.get("to"), data.get("to"))  # type: ignore[attr-defined]
        event.note_label = DISPUTE_LABELS.get(event.body, event.body)  # type: ignore[attr-defined]
    elif event.kind == TicketEvent.Kind.PRIORITY:
        event.from_label = PRIORITY_LABELS.get(data.get("from"), data.get("from"))  # type: ignore[attr-defined]
        event.to_label = PRIORITY_LABELS.get(data.get("to"), data.get("to"))  # type: ignore[attr-defined]
    elif event.kind == TicketEvent.Kind.SLA:
        event.from_label = SLA_LABELS.get(data.get("from"), data.get("from"))  # type: ignore[attr-defined]
        event.to_label = SLA_LABELS.get(data.get("to"), data.get("to"))  # type: ignore[attr-defined]
    elif event.kind == TicketEvent.Kind.REFUND:
        event.note_label = DECISION_LABELS.get(data.get("decision"), event.body)  # type: ignore[attr-defined]


def sla_badge(ticket: Ticket, now: datetime) -> str:
    """A short, coloured SLA label: time left to the nearer due, or how long ago it was missed."""
    state = ticket.sla_state
    if state in (Ticket.SLAState.NONE, Ticket.SLAState.MET) or not ticket.is_open:
        return format_html('<span class="sla {}">{}</span>', state, ticket.get_sla_state_display())
    if state == Ticket.SLAState.PAUSED:
        return format_html('<span class="sla paused">{}</span>', _("Paused"))
    due = ticket.first_response_due if ticket.first_response_at is None else ticket.resolution_due
    if due is None:
        return ""
    minutes = int((due - now).total_seconds() // 60)
    span = _duration(abs(minutes))
    if minutes < 0:
        return format_html('<span class="sla breached">{}</span>', _("%(span)s overdue") % {"span": span})
    css = "at_risk" if state == Ticket.SLAState.AT_RISK else "ok"
    return format_html('<span class="sla {}">{}</span>', css, _("%(span)s left") % {"span": span})


def _duration(minutes: int) -> str:
    if minutes >= 1440:
        return str(_("%(d)sd %(h)sh") % {"d": minutes // 1440, "h": minutes % 1440 // 60})
    if minutes >= 60:
        return str(_("%(h)sh %(m)sm") % {"h": minutes // 60, "m": minutes % 60})
    return str(_("%(m)sm") % {"m": minutes})


class RefundForm(forms.ModelForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    amount = forms.DecimalField(label=_("amount (yuan)"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    class Meta:
        model = RefundRequest
        fields = ("order", "amount", "reason")

    def validate_unique(self) -> None:
        # The form never saves its instance (save_model calls refunds.request_refund), and a used key is
        # no error: a resubmitted form is the same request and answers with its first decision. clean()
        # refuses the key only for another order or amount.
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if all(data.get(field) is not None for field in ("idempotency_key", "order", "amount")):
            try:
                refunds.replay(data["idempotency_key"], data["order"], data["amount"])
            except refunds.KeyReused:
                raise ValidationError(_("This form was already used for another refund; reload the page.")) from None
        return data


@admin.register(RefundRequest)
class RefundRequestAdmin(TenantScopedAdmin):
    """Refunds: the manual review queue, and "refund an order" for agents (the add page)."""

    list_display = ("id", "order", "consumer", "merchant", "amount", "decision", "why", "created_at", "decided_by")
    list_filter = ("decision",)
    search_fields = ("=order__order_no", "=consumer__external_id")
    list_select_related = ("order", "consumer", "merchant", "decided_by")
    autocomplete_fields = ("order",)
    show_full_result_count = False
    paginator = CappedPaginator
    actions = ["approve", "reject"]
    form = RefundForm

    @admin.display(description=_("why"))
    def why(self, obj: RefundRequest) -> str:
        return " ".join(refunds.explain(obj.reasons))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["idempotency_key"].initial = uuid.uuid4().hex  # a resubmitted form is one request
        return form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Decisions are final except through the review actions; the change page is read-only.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: RefundRequest, form: Any, change: bool) -> None:
        decided = refunds.request_refund(
            form.cleaned_data["order"], form.cleaned_data["amount"], form.cleaned_data["reason"],
            key=form.cleaned_data["idempotency_key"], requested_by=request.user,
        )  # fmt: skip
        obj.pk = decided.pk
        self.message_user(request, f"{decided.get_decision_display()}: {' '.join(refunds.explain(decided.reasons))}")

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the refund's own record is the log

    @admin.action(description=_("Approve the selected refunds"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> None:
        self._review(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected refunds"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> None:
        self._review(request, queryset, approve=False)

    def _review(self, request: HttpRequest, queryset: QuerySet[RefundRequest], *, approve: bool) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda refund: refunds.review_refund(refund, approve=approve, by=request.user),
            lambda n: ngettext("%d refund decided.", "%d refunds decided.", n) % n,
        )


@admin.register(Department)
class DepartmentAdmin(TenantScopedAdmin):
    list_display = ("code", "name")
    list_filter = ()
    search_fields = ("code", "name")
    list_select_related = ()


@admin.register(AgentProfile)
class AgentProfileAdmin(TenantScopedAdmin):
    list_display = ("user", "department", "available", "capacity")
    list_filter = ("available", "department")
    search_fields = ("user__username",)
    list_select_related = ("user", "department")
    autocomplete_fields = ("user",)


@admin.register(SLAPolicy)
class SLAPolicyAdmin(TenantScopedAdmin):
    list_display = ("name", "kind", "priority", "tier", "first_response_minutes", "resolution_minutes", "active")
    list_filter = ("active", "kind", "priority", "tier")
    search_fields = ("name",)
    list_select_related = ("tier",)


@admin.register(CannedReply)
class CannedReplyAdmin(TenantScopedAdmin):
    list_display = ("title", "department", "active")
    list_filter = ("active", "department")
    search_fields = ("title", "body")
    list_select_related = ("department",)


from tickets.chat import admin as chat_admin  # noqa: E402,F401  (registers the live-chat admin)
