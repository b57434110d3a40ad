"""Saved views of the ticket queue: a named set of the changelist's own query parameters.

Only the parameters the queue knows are kept, each value checked against its filter's choices; a view
is a query string, so opening one goes through the changelist and its queryset scope as always (a view
never widens what its user sees). The counts beside the views are one query over that same scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from core.tenancy import is_merchant_staff, scope
from core.users import Actor
from crm.models import CreditTier
from tickets import services
from tickets.macros import is_supervisor, visible_to
from tickets.models import OPEN_STATUSES, Department, SavedView, Ticket

LISTED = 20  # views shown beside the queue, at most
TAG_LENGTH = 32  # Ticket.tags' items
DIGITS = re.compile(r"^\d{1,18}$")
ORDER = re.compile(r"^-?\d{1,2}(\.-?\d{1,2}){0,3}$")  # the changelist's column order, as in ?o=-1.2


def _choice(values: Any) -> Callable[[str, Any], bool]:
    return lambda value, user: value in {str(v) for v in values}


def _row(model: Any) -> Callable[[str, Any], bool]:
    return lambda value, user: bool(DIGITS.match(value)) and scope(model.objects.filter(pk=value), user).exists()


def valid_tag(value: str) -> bool:
    """A tag as macros write them (tickets.admin_tools.MacroForm): 32 printable characters at most."""
    return 0 < len(value) <= TAG_LENGTH and value.isprintable()


# The queue's parameters (tickets.admin.TicketAdmin's filters, search and order) and how each value is checked.
KNOWN: dict[str, Callable[[str, Any], bool]] = {
    "queue": _choice(["unassigned", "open", "all"]),
    "status__exact": _choice(Ticket.Status.values),
    "kind__exact": _choice(Ticket.Kind.values),
    "sla_state__exact": _choice(Ticket.SLAState.values),
    "priority__exact": _choice(Ticket.Priority.values),
    "department__id__exact": _row(Department),
    "tier__id__exact": _row(CreditTier),
    "merchant_code": lambda value, user: 0 < len(value) <= 64 and value.isprintable(),
    "tag": lambda value, user: valid_tag(value),
    "q": lambda value, user: 0 < len(value) <= 200 and value.isprintable(),
    "o": lambda value, user: bool(ORDER.match(value)),
}


def clean_query(params: Mapping[str, str], user: Actor) -> str:
    """The known parameters of ``params`` whose values pass their check, as a query string (the rest dropped)."""
    kept = {key: str(params[key]).strip() for key in KNOWN if key in params}
    return urlencode({key: value for key, value in kept.items() if KNOWN[key](value, user)})


def views_for(user: Actor) -> QuerySet[SavedView]:
    return SavedView.objects.filter(visible_to(user)).order_by("owner", "name", "id")


@transaction.atomic
def save_view(user: Actor, name: str, params: Mapping[str, str], *, shared: bool = False) -> SavedView:
    """Save the queue's current parameters under ``name``: the user's own view, or (supervisors) a shared one."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A view needs a name.")})
    if len(name) > SavedView._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError({"name": _("A view's name is 80 characters at most.")})
    if shared and (not is_supervisor(user) or is_merchant_staff(user)):
        raise PermissionDenied(_("Only supervisors share views."))
    return SavedView.objects.create(name=name, owner=None if shared else user, query=clean_query(params, user))


def _q(query: str, user: Actor) -> Q:
    """A view's parameters as one condition on tickets (the changelist's own meaning of each)."""
    params = dict(parse_qsl(query))
    q = {
        "all": Q(),
        "open": Q(status__in=OPEN_STATUSES),
        "unassigned": Q(status__in=OPEN_STATUSES, assignee=None),
    }.get(params.get("queue", ""), services.my_open_tickets_q(user))
    fields = {"status__exact": "status", "kind__exact": "kind", "sla_state__exact": "sla_state",
              "priority__exact": "priority", "department__id__exact": "department_id", "tier__id__exact": "tier_id",
              "merchant_code": "merchant__code"}  # fmt: skip
    for key, field in fields.items():
        if key in params:
            q &= Q(**{field: params[key]})
    if "tag" in params:
        q &= Q(tags__contains=[params["tag"].lower()])
    if term := params.get("q", "").strip().lstrip("#"):
        q &= Q(pk__in=services.search_ticket_ids(term))
    return q


def listed(user: Actor, tickets: QuerySet[Ticket]) -> list[tuple[SavedView, int]]:
    """The user's views with how many of ``tickets`` (the queue's scoped queryset) each shows: two queries."""
    views = list(views_for(user)[:LISTED])
    if not views:
        return []
    counts = tickets.aggregate(**{f"v{v.pk}": Count("pk", filter=_q(v.query, user)) for v in views})
    return [(view, counts[f"v{view.pk}"]) for view in views]
