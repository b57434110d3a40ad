from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.admin_filters import DefaultChoiceFilter
from core.paginator import CappedPaginator
from core.privacy import ConsumerTextAdmin
from core.tenancy import TenantScopedAdmin, is_merchant_staff
from core.users import actor, person_name
from tickets import (
    admin_desk,
    admin_desk_buttons,
    admin_new,
    admin_refunds,
    admin_returns,  # noqa: F401  (registers the return requests' admin)
    admin_tools,  # registers the saved views' and macros' admin; manages_shared
    macros,
    refunds,
    services,
    views_saved,
)
from tickets.models import (
    OPEN_STATUSES,
    AgentProfile,
    CannedReply,
    Department,
    Macro,
    SLAPolicy,
    Ticket,
)
from tickets.models.tickets import URGENCY

__all__ = ["admin_refunds", "admin_tools"]  # importing it registers the refunds' admin


class QueueFilter(DefaultChoiceFilter):
    """The agent's default view is their own open tickets; one click shows the department's or everyone's."""

    title = _("queue")
    parameter_name = "queue"
    default_title = _("My open tickets")

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("unassigned", _("Unassigned open tickets")),
            ("open", _("All open tickets")),
            ("all", _("All tickets")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        value = self.value()
        if value == "all":
            return queryset
        if value == "open":
            return queryset.filter(status__in=OPEN_STATUSES)
        if value == "unassigned":
            return queryset.filter(status__in=OPEN_STATUSES, assignee=None)
        return queryset.filter(services.my_open_tickets_q(actor(request)))


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


def _usable_macros(request: HttpRequest) -> list[Macro]:
    """The macros the user may use, read once a request: the queue asks for them in each of Django's
    get_actions calls (three a page) and for the tag filter."""
    if (cached := getattr(request, "_usable_macros", None)) is None:
        cached = list(macros.macros_for(actor(request)))
        setattr(request, "_usable_macros", cached)  # noqa: B010  # an attribute of our own on Django's request
    return cached


class TagFilter(admin.SimpleListFilter):
    """A tag. Tickets get their tags from macros only (``tickets.services.add_tags``, lower-cased), so the tags
    offered are those of the macros the user may use (one query on a small table, whatever the number of
    tickets; another agent's personal macros stay theirs); the tag asked for is kept even when no macro adds it."""

    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        offered = {tag for macro in _usable_macros(request) for tag in macro.tags}
        if (asked := self.value()) and views_saved.valid_tag(asked):
            offered.add(asked)
        return [(tag, tag) for tag in sorted(offered)]

    def has_output(self) -> bool:
        # Shown (and applied) when a tag is asked for, even one no macro offers: a bad tag shows no tickets,
        # rather than being dropped and showing them all.
        return bool(self.lookup_choices) or self.value() is not None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        tag = (self.value() or "").lower()  # stored lower-cased: ?tag=VIP finds the "vip" tickets
        if not tag:
            return queryset
        return queryset.filter(tags__contains=[tag]) if views_saved.valid_tag(tag) else queryset.none()


@admin.register(Ticket)
class TicketAdmin(ConsumerTextAdmin, TenantScopedAdmin):
    consumer_text_columns = ("subject",)  # masked per viewer (core.privacy)
    list_display = (
        "number", "subject", "consumer_name", "status_badge", "time_left", "priority_badge", "tier", "kind",
        "department", "assignee_name", "updated",
    )  # fmt: skip
    list_display_links = ("number", "subject")
    list_filter = (QueueFilter, "status", "kind", "department", "tier", "sla_state", "priority", TagFilter,
                   MerchantCodeFilter)  # fmt: skip
    search_fields = ("id",)  # see get_search_results: exact, indexed lookups only
    search_help_text = _(
        "Ticket number, order number, the consumer's external id, exact name or phone, or words of the conversation."
    )
    list_select_related = ("consumer", "tier", "department", "assignee")
    show_full_result_count = False
    ordering = URGENCY  # type: ignore[assignment]  # Django takes expressions; the stubs say strings
    actions = ["assign_to_me", "put_back_in_queue"]
    list_per_page = 50
    paginator = CappedPaginator
    # Sorting a million rows by a joined column would scan them all: these have indexes.
    sortable_by = ("number", "updated")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str) -> Any:
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        return queryset.filter(pk__in=services.search_ticket_ids(term)), False

    @admin.display(description=_("#"), ordering="id")
    def number(self, obj: Ticket) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("consumer"), ordering="consumer__display_name")
    def consumer_name(self, obj: Ticket) -> str:
        return obj.consumer.display_name

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Ticket) -> str:
        return format_html('<span class="badge status {}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description=_("assignee"), ordering="assignee__first_name")
    def assignee_name(self, obj: Ticket) -> str:
        return refunds.person(obj.assignee) if obj.assignee else "—"

    def get_ordering(self, request: HttpRequest) -> Any:
        # Urgency over the working views; "all tickets" (the whole history) by its indexed update time.
        return ("-updated_at", "-id") if request.GET.get("queue") == "all" else URGENCY

    @admin.display(description=_("priority"), ordering="priority")
    def priority_badge(self, obj: Ticket) -> str:
        return format_html('<span class="badge p{}">{}</span>', obj.priority, obj.get_priority_display())

    @admin.display(description=_("updated"), ordering="updated_at")
    def updated(self, obj: Ticket) -> str:
        return admin_desk.narrow_time(obj.updated_at)

    @admin.display(description=_("SLA"), ordering="resolution_due")
    def time_left(self, obj: Ticket) -> str:
        return admin_desk.sla_badge(obj, timezone.now())

    # --- list actions ---------------------------------------------------------------------------

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._each(request, queryset, lambda t: services.assign_ticket(t, actor(request), by=actor(request)))

    @admin.action(description=_("Put back in the queue"), permissions=["change"])
    def put_back_in_queue(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._each(request, queryset, lambda t: services.assign_ticket(t, None, by=actor(request)))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """The list's actions, and one per macro of the user (tickets.macros), each ticket on its own."""
        actions = super().get_actions(request)
        if self.has_change_permission(request):
            for macro in _usable_macros(request):
                label = _("Apply macro: %(name)s") % {"name": macro.name}
                actions[f"macro_{macro.pk}"] = (self._macro_action(macro), f"macro_{macro.pk}", label)
        return actions

    def _macro_action(self, macro: Any) -> Any:
        def apply(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
            rows, by = list(queryset), actor(request)
            done = lambda n: _("Macro “%(name)s”: %(done)d done, %(refused)d refused.") % {  # noqa: E731
                "name": macro.name, "done": n, "refused": len(rows) - n}  # fmt: skip
            apply_to_each(self, request, rows, lambda t: macros.apply_macro_or_refuse(macro, t, by=by), done)

        return apply

    def _each(self, request: HttpRequest, queryset: QuerySet[Ticket], act: Any) -> None:
        apply_to_each(
            self, request, queryset, act, lambda n: ngettext("%d ticket updated.", "%d tickets updated.", n) % n
        )

    # --- the ticket page: timeline, reply box, the consumer, actions ---------------------------

    class Media:
        css = {"all": ["tickets/desk.css", "tickets/tools.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Agents and supervisors open tickets for calls; merchant staff answer the marketplace's, never open them.
        return super().has_add_permission(request) and not is_merchant_staff(request.user)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """A ticket opened by hand (admin_new.NewTicketForm → services.open_ticket), then its page."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = admin_new.NewTicketForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            ticket = form.open(actor(request))
            self.message_user(request, _("Ticket #%(id)s opened.") % {"id": ticket.pk}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": _("Open a ticket")}  # fmt: skip
        return TemplateResponse(request, "admin/tickets/ticket/new.html", context)

    def get_urls(self) -> list[Any]:
        act = self.admin_site.admin_view(self.act_view)
        availability = self.admin_site.admin_view(self.availability_view)
        save_view = self.admin_site.admin_view(self.save_view_view)
        return [
            path("saved-views/save/", save_view, name="tickets_ticket_save_view"),
            path("<int:pk>/act/", act, name="tickets_ticket_act"),
            path("availability/", availability, name="tickets_ticket_availability"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        profile = AgentProfile.objects.filter(user=request.user.pk or 0).first()
        extra = {"agent_profile": profile, **(extra_context or {}),
                 "saved_views": views_saved.listed(actor(request), self.get_queryset(request)),
                 "may_share_views": admin_tools.manages_shared(actor(request))}  # fmt: skip
        return super().changelist_view(request, extra)

    def availability_view(self, request: HttpRequest) -> HttpResponse:
        """An agent marks themself available (new tickets are routed to them) or away."""
        if request.method != "POST" or not self.has_change_permission(request) or is_merchant_staff(request.user):
            raise PermissionDenied
        profile = services.set_availability(actor(request), request.POST.get("available") == "1")
        if profile.available:
            self.message_user(request, _("You are available: new tickets of your department come to you."))
        else:
            self.message_user(request, _("You are away: no new tickets are routed to you."))
        return HttpResponseRedirect(reverse("admin:tickets_ticket_changelist"))

    def save_view_view(self, request: HttpRequest) -> HttpResponse:
        """Save the queue's current filters under a name (tickets.views_saved), then open the saved view."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        params = dict(parse_qsl(request.POST.get("query", "").replace("\x00", "")))
        try:
            view = views_saved.save_view(actor(request), request.POST.get("name", ""), params,
                                         shared=request.POST.get("shared") == "1")  # fmt: skip
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:tickets_ticket_changelist") + "?" + urlencode(params))
        self.message_user(request, _("View “%(name)s” saved.") % {"name": view.name})
        return HttpResponseRedirect(reverse("admin:tickets_ticket_changelist") + "?" + view.query)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """The ticket page (admin_desk.page_context): timeline, reply box, the consumer, the order, the buttons."""
        ticket = self._get_visible(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "can_change": self.has_change_permission(request, ticket),
            **admin_desk.page_context(request, ticket),
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
        """Every button on the ticket page posts here: its form (admin_desk_buttons.ACTIONS) calls one service."""
        ticket = self._get_visible(request, pk)
        if request.method != "POST" or not self.has_change_permission(request, ticket):
            raise PermissionDenied
        try:
            action = admin_desk_buttons.bound_action(request, ticket)
            message = action.perform()
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, message, action.level)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))


@admin.register(Department)
class DepartmentAdmin(TenantScopedAdmin):
    list_display = ("code", "name")
    list_filter = ()
    search_fields = ("code", "name")
    list_select_related = ()


@admin.register(AgentProfile)
class AgentProfileAdmin(TenantScopedAdmin):
    list_display = ("user_name", "department", "available", "capacity")
    list_filter = ("available", "department")
    search_fields = ("user__username", "user__first_name")
    list_select_related = ("user", "department")

    @admin.display(description=_("user"), ordering="user__first_name")
    def user_name(self, obj: AgentProfile) -> str:
        return person_name(obj.user)  # by name, as on the pages, not by username

    autocomplete_fields = ("user",)


@admin.register(SLAPolicy)
class SLAPolicyAdmin(TenantScopedAdmin):
    list_display = ("name", "kind", "priority", "tier", "first_response_minutes", "resolution_minutes", "active")
    list_filter = ("active", "kind", "priority", "tier")
    search_fields = ("name",)
    list_select_related = ("tier",)


@admin.register(CannedReply)
class CannedReplyAdmin(TenantScopedAdmin):
    list_display = ("title", "department", "language", "active")
    list_filter = ("active", "language", "department")
    search_fields = ("title", "body")
    list_select_related = ("department",)
