"""The walk's plan (bench/walk_pages.py): which pages each demo role visits, read from the database and the admin
registry so that none is forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

ROLES = ("agent", "supervisor", "merchant", "business", "consumer", "admin")  # the people first, the administrator last


@dataclass
class Page:
    """One page of a role's walk: a short name (the file name), the path, and what to do there first."""

    name: str
    path: str
    then: str = ""  # "reveal": press the first reveal button; "chat": send one message in the widget
    expect: int = 200


# --- The plan, read from the database and the admin registry ---------------------------------------------


def plan() -> dict[str, list[Page]]:
    """Every role's pages, in the order a person would open them."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    pages = {}
    for role in ROLES:
        if role == "consumer":
            pages[role] = consumer_pages()
            continue
        user = User.objects.get(username=role)
        pages[role] = [Page("home", "/admin/"), *desk_pages(user), *registry_pages(user, adds=role == "admin")]
        pages[role] += [Page("api-docs", "/api/docs/"), Page("404", "/no-such-page/", expect=404)]
        if role == "merchant":
            pages[role] += forbidden_pages()
    # A page named twice (the registry's and the desk's) is walked once, under its first name.
    return {role: list({p.path + p.then: p for p in reversed(listed)}.values())[::-1] for role, listed in pages.items()}


def _request(user: Any) -> Any:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _first(model_admin: Any, request: Any, **lookups: Any) -> Any:
    return model_admin.get_queryset(request).filter(**lookups).order_by("pk").first()


def registry_pages(user: Any, *, adds: bool) -> list[Page]:
    """Each registered model's changelist and one change form (and, for the administrator, its add form)."""
    from django.contrib import admin
    from django.urls import reverse

    request = _request(user)
    pages = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label):
        opts = model._meta
        slug = f"{opts.app_label}-{opts.model_name}"
        if not model_admin.has_view_or_change_permission(request):
            continue
        pages.append(Page(f"{slug}-list", reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")))
        row = _first(model_admin, request)
        if row is not None:
            pages.append(
                Page(f"{slug}-change", reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
            )
        if adds and model_admin.has_add_permission(request):
            pages.append(Page(f"{slug}-add", reverse(f"admin:{opts.app_label}_{opts.model_name}_add")))
    return pages


def desk_pages(user: Any) -> list[Page]:
    """The pages of the working day that the registry alone does not name, where the role may open them."""
    from django.contrib import admin
    from django.db.models import Q
    from django.urls import reverse
    from django.utils import timezone

    from chat.models import ChatSession, KnowledgeArticle
    from core.tenancy import scope
    from crm.models import Consumer, RiskFlag, RiskPattern
    from home import selectors
    from merchants.models import Merchant
    from qa.models import Finding, Rule, Transcript
    from radio.models import Digest
    from tickets.models import RefundRequest, SavedView, Ticket

    request = _request(user)
    site = admin.site._registry
    pages: list[Page] = []
    tickets = site[Ticket]
    if tickets.has_view_or_change_permission(request):
        pages += [Page("queue-mine", "/admin/tickets/ticket/")]
        for value in ("unassigned", "open", "all"):
            pages.append(Page(f"queue-{value}", f"/admin/tickets/ticket/?queue={value}"))
        pages.append(Page("queue-breached", "/admin/tickets/ticket/?queue=open&sla_state__exact=breached"))
        pages.append(Page("queue-search-name", "/admin/tickets/ticket/?queue=all&q=退款"))
        for view in SavedView.objects.filter(Q(owner=user) | Q(owner=None)).order_by("pk")[:5]:
            pages.append(Page(f"queue-saved-{view.pk}", f"/admin/tickets/ticket/?{view.query}"))
        kinds: dict[str, dict[str, object]] = {
            "chat": {"channel": "chat"}, "refund": {"kind": "refund", "refund_requests__isnull": False},
            "dispute": {"kind": "dispute"}, "phone": {"channel": "phone"},
        }  # fmt: skip
        for name, lookups in kinds.items():
            ticket = _first(tickets, request, **lookups)
            if ticket is not None:
                pages.append(Page(f"ticket-{name}", reverse("admin:tickets_ticket_change", args=[ticket.pk])))
        if tickets.has_add_permission(request):
            pages.append(Page("ticket-add", reverse("admin:tickets_ticket_add")))
    refunds = site[RefundRequest]
    if refunds.has_view_or_change_permission(request):
        pages.append(Page("refunds-list", reverse("admin:tickets_refundrequest_changelist")))
        waiting = _first(refunds, request, decision=RefundRequest.Decision.MANUAL)
        if waiting is not None:
            # The review page is the change page (…/review/ takes the verdict's POST only).
            pages.append(Page("refund-review", reverse("admin:tickets_refundrequest_change", args=[waiting.pk])))
        rejected = _first(refunds, request, decision=RefundRequest.Decision.REJECTED)
        if rejected is not None and rejected.ticket_id:
            pages.append(
                Page("ticket-refund-rejected", reverse("admin:tickets_ticket_change", args=[rejected.ticket_id]))
            )
    consumers = site[Consumer]
    if consumers.has_view_or_change_permission(request):
        consumer = consumers.get_queryset(request).exclude(phone="").order_by("pk").first()
        if consumer is not None:
            change = reverse("admin:crm_consumer_change", args=[consumer.pk])
            pages += [Page("consumer", change), Page("consumer-revealed", change, then="reveal")]
    flags = site[RiskFlag]
    if flags.has_view_or_change_permission(request):
        flag = _first(flags, request, status=RiskFlag.Status.OPEN)
        if flag is not None:
            # The review is on the change page (…/review/ takes the verdict's POST only).
            pages.append(Page("riskflag-review", reverse("admin:crm_riskflag_change", args=[flag.pk])))
    if site[RiskPattern].has_view_or_change_permission(request):
        pages.append(Page("riskpattern-backtest", reverse("admin:crm_riskpattern_backtest")))
    if site[ChatSession].has_view_or_change_permission(request):
        pages.append(Page("console", reverse("admin:chat_chatsession_console")))
    if site[KnowledgeArticle].has_view_or_change_permission(request):
        pages.append(Page("knowledge-missed", reverse("admin:chat_knowledgearticle_missed")))
    if selectors.home_kind(user) == selectors.SUPERVISOR:
        month = (timezone.localdate() - timedelta(days=29)).isoformat()
        pages += [Page("reports", reverse("reports")), Page("reports-30-days", reverse("reports") + f"?start={month}"),
                  Page("reports-bad-range", reverse("reports") + "?start=tomorrow", expect=400)]  # fmt: skip
    findings = site[Finding]
    if findings.has_view_or_change_permission(request):
        pages.append(Page("findings-queue", reverse("admin:qa_finding_changelist")))
        finding = _first(findings, request)
        if finding is not None:
            pages.append(Page("finding", reverse("admin:qa_finding_change", args=[finding.pk])))
    transcripts = site[Transcript]
    if transcripts.has_view_or_change_permission(request):
        pages.append(Page("qa-search", reverse("admin:qa_transcript_search") + "?q=全额退款"))
        pages.append(Page("transcripts-search-box", reverse("admin:qa_transcript_changelist") + "?q=全额退款"))
        for kind in (Transcript.Kind.CALL, Transcript.Kind.CHAT):
            transcript = _first(transcripts, request, kind=kind)
            if transcript is not None:
                pages.append(Page(f"transcript-{kind}", reverse("admin:qa_transcript_change", args=[transcript.pk])))
    rules = site[Rule]
    if rules.has_view_or_change_permission(request):
        rule = _first(rules, request)
        if rule is not None:
            pages.append(Page("rule-backtest", reverse("admin:qa_rule_backtest", args=[rule.pk])))
    merchants = site[Merchant]
    if merchants.has_view_or_change_permission(request):
        shop = _first(merchants, request)
        if shop is not None:
            pages.append(Page("merchant-scores", reverse("admin:merchants_merchant_scores", args=[shop.pk])))
    pages += [Page("radio", "/radio/"), Page("radio-channels", "/radio/channels/")]
    digest = scope(Digest.objects.select_related("channel"), user).order_by("-day", "pk").first()
    if digest is not None:
        day = digest.day.isoformat()
        pages += [Page("radio-day", f"/radio/{day}/"), Page("radio-channel", f"/radio/{day}/{digest.channel.code}/")]
    return pages


def forbidden_pages() -> list[Page]:
    """Pages merchant staff may not open: what they are told there."""
    paths = {"findings": "/admin/qa/finding/", "reports": "/admin/reports/", "users": "/admin/auth/user/",
             "console": "/admin/chat/chatsession/console/"}  # fmt: skip
    return [Page(f"403-{name}", path, expect=403) for name, path in paths.items()]


def consumer_pages() -> list[Page]:
    """What a consumer opens: the chat widget (with a token, as a shop's site would embed it), a survey link."""
    from chat.tokens import issue_token
    from crm.models import Consumer
    from tickets import surveys
    from tickets.models import Ticket

    consumer = Consumer.objects.order_by("-credit_score", "pk").first()
    assert consumer is not None, "seed_demo made no consumer"
    pages = [Page("chat-widget", f"/chat/?token={issue_token(consumer.pk)}", then="chat")]
    resolved = Ticket.objects.filter(resolved_at__isnull=False).exclude(channel="chat").order_by("pk").first()
    if resolved is not None:
        pages.append(Page("survey", f"/survey/{surveys.survey_token(resolved)}/"))
    pages.append(Page("survey-bad-link", "/survey/not-a-token/", expect=404))
    return [*pages, Page("login", "/admin/login/"), Page("api-docs-signed-out", "/api/docs/"),
            Page("radio-signed-out", "/radio/"), Page("404", "/no-such-page/", expect=404)]  # fmt: skip
