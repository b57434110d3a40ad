"""The list filters that open a changelist on a working view (core.admin_filters.DefaultChoiceFilter)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def shown_choices(client: Client, url: str, parameter: str) -> list[tuple[str, bool, str]]:
    """The filter's choices as the sidebar renders them: (label, selected, query string)."""
    response = client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    changelist = response.context["cl"]
    (spec,) = [s for s in changelist.filter_specs if getattr(s, "parameter_name", None) == parameter]
    return [(str(c["display"]), c["selected"], c["query_string"]) for c in spec.choices(changelist)]


def test_ticket_queue_opens_on_my_open_tickets_a_choice_without_a_parameter(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    assert shown_choices(client, "/admin/tickets/ticket/", "queue") == [
        ("My open tickets", True, "?"),
        ("Unassigned open tickets", False, "?queue=unassigned"),
        ("All open tickets", False, "?queue=open"),
        ("All tickets", False, "?queue=all"),
    ]
    chosen = shown_choices(client, "/admin/tickets/ticket/?queue=open", "queue")
    assert [selected for _, selected, _ in chosen] == [False, False, True, False]
    assert chosen[0][2] == "?"  # the default's link drops the parameter


def test_radio_queues_open_on_their_defaults(supervisor: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(supervisor)
    assert shown_choices(client, "/admin/radio/nomination/", "queue") == [
        ("Waiting for screening", True, "?"),
        ("My nominations", False, "?queue=mine"),
        ("All nominations", False, "?queue=all"),
    ]
    acknowledged = shown_choices(client, "/admin/radio/digestitem/?ack=yes", "ack")
    assert [(label, selected) for label, selected, _ in acknowledged] == [
        ("Never acknowledged", False), ("Today's, not yet acknowledged", False), ("Acknowledged", True), ("All", False)
    ]  # fmt: skip


def test_findings_default_is_one_of_the_lookups_open_for_reviewers_confirmed_for_agents(
    agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    reviewer = shown_choices(client_for(supervisor), "/admin/qa/finding/", "status")
    assert [(label, selected) for label, selected, _ in reviewer] == [
        ("Open", True), ("Confirmed", False), ("Dismissed", False), ("All", False)
    ]  # fmt: skip
    assert [q for _, _, q in reviewer] == ["?status=open", "?status=confirmed", "?status=dismissed", "?status=all"]
    own = shown_choices(client_for(agent), "/admin/qa/finding/", "status")
    assert [selected for _, selected, _ in own] == [False, True, False, False]
    explicit = shown_choices(client_for(supervisor), "/admin/qa/finding/?status=all", "status")
    assert [selected for _, selected, _ in explicit] == [False, False, False, True]
