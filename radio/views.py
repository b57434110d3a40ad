"""The radio's pages: the morning digest (/radio/), its archive and audio, subscriptions, and nominating a case."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import charts
from core.files import ranged_file_response
from core.users import actor
from radio import selectors, services, sources
from radio.forms import NominateForm, ReplyForm, error_lists
from radio.models import Channel, Digest, DigestItem, Nomination, Subscription

ITEMS_PER_PAGE = 50  # on a channel's full digest

radio_login_required = login_required(login_url=reverse_lazy("radio:login"))


class LoginView(auth_views.LoginView):
    """The business teams' own door: any active user may sign in here; the digest page decides what they see."""

    template_name = "radio/login.html"
    redirect_authenticated_user = True
    next_page = cast(str, reverse_lazy("radio:today"))


class LogoutView(auth_views.LogoutView):
    next_page = cast(str, reverse_lazy("radio:login"))


def _require_radio(request: HttpRequest) -> None:
    if not selectors.may_use_radio(actor(request)):
        raise PermissionDenied(_("The radio is for business teams, curators and supervisors."))


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Http404 from None


@radio_login_required
def digest_page(request: HttpRequest, day: str | None = None) -> HttpResponse:
    """The morning page: the user's channels (subscribed first), today's digest of each, archive by date."""
    _require_radio(request)
    today = timezone.localdate()
    chosen = _parse_day(day)
    shown = chosen or today
    blocks = selectors.page(actor(request), shown, items_per_channel=settings.RADIO_PAGE_ITEMS)
    days = selectors.archive_days(actor(request))
    fallback = False
    if chosen is None and blocks and not any(b.digest for b in blocks) and days and days[0] < today:
        # Before RADIO_DIGEST_TIME today's digests do not exist yet: show the latest ones, and say so.
        shown, fallback = days[0], True
        blocks = selectors.page(actor(request), shown, items_per_channel=settings.RADIO_PAGE_ITEMS)
    return TemplateResponse(request, "radio/digest.html", _context(request, blocks, shown, today, days, fallback))


@radio_login_required
def channel_page(request: HttpRequest, day: str, code: str) -> HttpResponse:
    """One channel's whole digest of a day, every item, 50 to a page."""
    _require_radio(request)
    shown = _parse_day(day)
    assert shown is not None
    channel = get_object_or_404(Channel, code=code)
    if not selectors.can_read_channel(actor(request), channel.pk):
        raise Http404  # a channel the user may not read is one they should not learn exists
    blocks = selectors.page(actor(request), shown, items_per_channel=0, channel=channel)
    page_obj = selectors.items_page(blocks[0], request.GET.get("page"), per_page=ITEMS_PER_PAGE)
    context = _context(request, blocks, shown, timezone.localdate(), selectors.archive_days(actor(request)), False)
    context.update({"single": True, "page_obj": page_obj})
    return TemplateResponse(request, "radio/digest.html", context)


def _trend_chart(trend: list[tuple[date, int, int]], shown: date) -> SafeString:
    """Customers who spoke per day (items, customers), the shown day highlighted, the busiest day labelled."""
    bars = [
        charts.Bar(day, customers, _("%(day)s: %(items)s items, %(customers)s customers")
                   % {"day": day.strftime("%m-%d"), "items": items, "customers": customers}, shown=day == shown)
        for day, items, customers in trend
    ]  # fmt: skip
    peak, total = max((bar.value for bar in bars), default=0), sum(bar.value for bar in bars)
    label = _("Customers per day over the last %(days)s days: %(total)s in all") % {"days": len(bars), "total": total}
    return charts.bar_chart(bars, label=label, peak_label=_("peak %(n)s") % {"n": peak} if peak else _("no voices yet"))


def _context(
    request: HttpRequest, blocks: list[selectors.ChannelDigest], shown: date, today: date, days: list[date],
    fallback: bool,
) -> dict[str, Any]:  # fmt: skip
    for block in blocks:
        block.chart = _trend_chart(block.trend, shown)
    digests = [b.digest for b in blocks if b.digest is not None]
    earlier = [d for d in days if d < shown]
    later = [d for d in days if d > shown]
    return {
        "blocks": blocks,
        "day": shown,
        "today": today,
        "is_today": shown == today,
        "fallback": fallback,
        "archive": days,
        "previous_day": earlier[0] if earlier else None,
        "next_day": later[-1] if later else None,
        "totals": {
            "items": sum(d.items_count for d in digests),
            "customers": sum(d.customers for d in digests),
            "severe": sum(int(d.figures.get("severe", 0)) for d in digests),
            "channels": len(blocks),
        },
        "can_respond": request.user.has_perm("radio.respond_digestitem"),
        "is_curator": selectors.reads_every_channel(actor(request)),
        "shop": selectors.shop_of(actor(request)),
        "digest_time": settings.RADIO_DIGEST_TIME,
        "reply_form": ReplyForm(),
    }


@radio_login_required
def audio(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A digest's recording, for those who may read its channel (never a public media URL), in byte ranges
    so that the player can seek."""
    digest = get_object_or_404(Digest, pk=pk)
    if not selectors.can_read_channel(actor(request), digest.channel_id):
        raise Http404
    if digest.audio_status != Digest.Audio.READY or not digest.audio:
        raise Http404
    response = ranged_file_response(request, digest.audio, digest.audio_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return str(target)
    return fallback


def _readable_item(request: HttpRequest, pk: int) -> DigestItem:
    item = get_object_or_404(DigestItem.objects.select_related("digest"), pk=pk)
    if not selectors.can_read_channel(actor(request), item.digest.channel_id):
        raise Http404
    return item


def _back_to_item(request: HttpRequest, item: DigestItem) -> HttpResponse:
    return redirect(_back(request, reverse("radio:day", args=[item.digest.day.isoformat()])) + f"#item-{item.pk}")


@require_POST
@radio_login_required
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    item = _readable_item(request, pk)
    first = services.acknowledge_item(item, by=actor(request))
    if _wants_json(request):
        shown = selectors.acknowledgement(item.pk)
        return JsonResponse({"item": item.pk, "acknowledged": True, "first": first, **shown})
    return _back_to_item(request, item)


@require_POST
@radio_login_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    item = _readable_item(request, pk)
    try:
        answer = ReplyForm(request.POST).reply(item, by=actor(request))
    except ValidationError as error:
        if _wants_json(request):
            return JsonResponse({"errors": error_lists(error)}, status=400)
        messages.error(request, "; ".join(error.messages))
    else:
        if _wants_json(request):  # the page adds the reply under its item, which the reply acknowledged
            shown = {**selectors.reply_shown(answer.pk), **selectors.acknowledgement(item.pk)}
            return JsonResponse({"item": item.pk, "reply": answer.pk, **shown}, status=201)
        messages.success(request, _("Reply sent: the agent who nominated it will see it."))
    return _back_to_item(request, item)


@radio_login_required
def channels(request: HttpRequest) -> HttpResponse:
    """Every active channel by department, with the user's subscriptions; subscribe or leave with one click."""
    _require_radio(request)
    if request.method == "POST":
        return _follow_or_leave(request)
    user = actor(request)
    mine = set(Subscription.objects.filter(user=request.user.pk).values_list("channel_id", flat=True))
    listed = selectors.listed_channels(user).select_related("department").order_by("department__name", "name")
    return TemplateResponse(
        request,
        "radio/channels.html",
        {"channels": listed, "mine": mine, "can_subscribe": request.user.has_perm("radio.add_subscription"),
         "today": timezone.localdate(), "is_curator": selectors.reads_every_channel(actor(request))},
    )  # fmt: skip


def _follow_or_leave(request: HttpRequest) -> HttpResponse:
    """The channels page's buttons: follow a channel (services.subscribe) or leave it (services.unsubscribe)."""
    leave = request.POST.get("action") == "leave"
    if not request.user.has_perm("radio.delete_subscription" if leave else "radio.add_subscription"):
        raise PermissionDenied
    channel_id = str(request.POST.get("channel", ""))
    channel = get_object_or_404(selectors.department_channels(), pk=int(channel_id) if channel_id.isdigit() else 0)
    if leave:
        services.unsubscribe(actor(request), channel)
        messages.success(request, _("You left %(channel)s.") % {"channel": channel.name})
    else:
        services.subscribe(actor(request), channel)
        messages.success(request, _("You follow %(channel)s: its digest is on your page every morning.")
                         % {"channel": channel.name})  # fmt: skip
    return redirect("radio:channels")


# --- nominating (agents, from a ticket, chat, transcript or finding) --------------------------------


@login_required
def nominate(request: HttpRequest) -> HttpResponse:
    """GET ``?source=ticket|chat|transcript|finding&id=N``: the form, prefilled; POST: nominate (once per source).

    POST answers JSON when the request accepts ``application/json`` (the chat console posts ``source``,
    ``id``, ``quote``, ``note``, ``channel`` with fetch and a CSRF token); otherwise it redirects to ``next``.
    """
    source = _nominable_source(request)
    if isinstance(source, HttpResponse):
        return source
    if request.method != "POST":
        initial = {"quote": source.quote, "channel": _suggested_channel(source), "severity": source.severity}
        return _nominate_page(request, source, NominateForm(initial=initial))
    form = NominateForm(request.POST)
    if (nominated := form.nominate(source, by=actor(request))) is not None:
        return _nominated(request, *nominated)
    if _wants_json(request):
        return JsonResponse({"errors": {k: [str(m) for m in v] for k, v in form.errors.items()}}, status=400)
    return _nominate_page(request, source, form)


def _nominable_source(request: HttpRequest) -> sources.Source | HttpResponse:
    """The source asked for (``source`` and ``id``), if the user may nominate from it; else the answer refusing."""
    if not request.user.has_perm("radio.add_nomination"):
        return _denied(request, {"__all__": [_("You may not nominate cases to the radio.")]})
    data = request.POST if request.method == "POST" else request.GET
    try:
        source = sources.resolve(str(data.get("source", "")), sources.parse_id(data.get("id")))
    except ValidationError as error:
        return _no_source(request, error)
    if not sources.can_nominate_from(actor(request), source):
        return _denied(request, {"id": [_("You may not see this source.")]})
    return source


def _denied(request: HttpRequest, errors: dict[str, list[str]]) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"errors": errors}, status=403)
    raise PermissionDenied


def _no_source(request: HttpRequest, error: ValidationError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"errors": error_lists(error)}, status=400)
    failed = {**admin.site.each_context(request), "source_error": error.messages, "title": _("Nominate to the radio")}
    return TemplateResponse(request, "radio/nominate.html", failed, status=400)


def _nominate_page(request: HttpRequest, source: sources.Source, form: NominateForm) -> HttpResponse:
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Nominate to the radio"),
        "form": form,
        "source": source,
        "existing": Nomination.objects.filter(source_kind=source.kind, source_id=source.id).first(),
        "next": _back(request, ""),
        "has_quote": bool(source.quote),
    }
    return TemplateResponse(request, "radio/nominate.html", context, status=400 if form.errors else 200)


def _suggested_channel(source: sources.Source) -> int | None:
    if source.department is None:
        return None
    channels = selectors.department_channels().filter(department=source.department).order_by("name")
    return channels.values_list("pk", flat=True).first()


def _nominated(request: HttpRequest, nomination: Nomination, created: bool) -> HttpResponse:
    url = reverse("admin:radio_nomination_change", args=[nomination.pk])
    if _wants_json(request):
        return JsonResponse(
            {"id": nomination.pk, "created": created, "status": nomination.status, "url": url},
            status=201 if created else 200,
        )
    if created:
        messages.success(request, _("Nominated to the radio: a curator will screen it."))
    else:
        messages.info(request, _("This case was nominated already; nothing was added."))
    return redirect(_back(request, reverse("admin:radio_nomination_changelist")))
