from __future__ import annotations

from celery import shared_task

from core import roles
from core.realtime import role_group, send_event
from home import selectors

# Who sees the wallboard: supervisors, and superusers (the events socket puts them in this group).
WALLBOARD_GROUPS = (role_group(roles.SUPERVISOR), role_group("superuser"))


@shared_task(name="home.tasks.push_wallboard", ignore_result=True)
def push_wallboard() -> None:
    """Every few seconds (beat): the wallboard's numbers to every supervisor's open /ws/events/ socket."""
    numbers = selectors.wallboard()
    for group in WALLBOARD_GROUPS:
        send_event(group, "wallboard", numbers)
