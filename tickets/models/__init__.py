"""The tickets app's models, one module per family: the desk's departments, agents and SLA policies (with the
ticket kinds and priorities); tickets, their events and canned replies; refund and return requests; the
agents' saved views and macros; the survey answers of tickets resolved outside chat.

Import them from here (``from tickets.models import Ticket``)."""

from __future__ import annotations

from tickets.models.departments import AgentProfile, Department, SLAPolicy, TicketKind, TicketPriority
from tickets.models.desk import DeskTool, Macro, SavedView
from tickets.models.requests import RefundRequest, ReturnRequest
from tickets.models.surveys import TicketSatisfaction
from tickets.models.tickets import OPEN_STATUSES, CannedReply, CannedReplyQuerySet, Ticket, TicketEvent

__all__ = [
    "OPEN_STATUSES",
    "AgentProfile",
    "CannedReply",
    "CannedReplyQuerySet",
    "Department",
    "DeskTool",
    "Macro",
    "RefundRequest",
    "ReturnRequest",
    "SLAPolicy",
    "SavedView",
    "Ticket",
    "TicketEvent",
    "TicketKind",
    "TicketPriority",
    "TicketSatisfaction",
]
