"""Admin of live chats, the knowledge base and proactive rules, and the agent console page."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from chat import choices, learning, selectors, tasks
from chat.models import ChatSession, HandoffPhrase, KnowledgeArticle, ProactiveRule, Synonym
from chat.selectors import summary_lines
from core.privacy import shown
from core.tenancy import TenantScopedAdmin, is_merchant_staff, merchant_id_of
from core.users import Actor, actor


@admin.register(ChatSession)
class ChatSessionAdmin(TenantScopedAdmin):
    list_display = ("ticket_link", "consumer", "shop", "state", "agent", "handoff_reason", "callback", "queued_at",
                    "created_at")  # fmt: skip
    list_filter = ("state", "handoff_reason", "callback", "language")
    search_fields = ("=consumer__external_id", "=ticket__id")
    list_select_related = ("ticket", "consumer", "agent", "shop")
    raw_id_fields = ("ticket", "consumer", "agent", "shop")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    @admin.display(description=_("ticket"), ordering="ticket")
    def ticket_link(self, obj: ChatSession) -> str:
        url = reverse("admin:tickets_ticket_change", args=[obj.ticket_id])
        return format_html('<a href="{}">#{}</a>', url, obj.ticket_id)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The bot's summary quotes the consumer: in words, masked for whoever may not see their numbers.
        summary = _summary_for(actor(request))
        return [summary if name == "summary" else name for name in super().get_fields(request, obj)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # chats are started by consumers

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # chats change through the console, one service per action

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        console = self.admin_site.admin_view(self.console_view)
        return [path("console/", console, name="chat_chatsession_console"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra = {"may_use_console": selectors.may_use_console(actor(request)), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def console_view(self, request: HttpRequest) -> HttpResponse:
        """The agents' live console: queue, chats side by side, consumer details, canned replies, actions."""
        user = actor(request)
        if not selectors.may_use_console(user):
            raise PermissionDenied
        config = {
            "socket": "/ws/chat/agent/?lang=" + (get_language() or settings.LANGUAGE_CODE),
            # The console offers only what the user may do: merchant staff neither nominate nor refund.
            "nominateUrl": _nominate_url() if user.has_perm("radio.add_nomination") else "",
            "mayRefund": user.has_perm("tickets.add_refundrequest"),
            "ticketUrl": reverse("admin:tickets_ticket_change", args=[0]).replace("/0/", "/{id}/"),
            "maxChars": _max_chars(),
            "lang": get_language() or settings.LANGUAGE_CODE,
            "timeZone": settings.TIME_ZONE,  # messages show local times, as ticket pages do
            "strings": {key: str(value) for key, value in CONSOLE_STRINGS.items()},
            # Images go over HTTP (chat.api_attachments) with the session and its CSRF token.
            "imageUrl": reverse("api-chat-console-image"),
            "csrfToken": get_token(request),
            "typingSeconds": settings.CHAT_TYPING_SECONDS,
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Live chat console"),
            "config": config,
        }
        return TemplateResponse(request, "admin/chat/chatsession/console.html", context)


def _nominate_url() -> str:
    try:
        return reverse("radio:nominate")
    except NoReverseMatch:  # the radio is not installed (yet): the console works without it
        return ""


def _summary_for(user: Actor) -> Any:
    """The chat page's "bot's summary" field, bound to the viewer."""

    @admin.display(description=_("bot's summary"))
    def summary(obj: ChatSession) -> str:
        return format_html_join("", "<div>{}</div>", ((shown(line, user),) for line in summary_lines(obj))) or "—"

    return summary


def _max_chars() -> int:
    return int(settings.CHAT_MAX_MESSAGE_CHARS)


class ShopOwnedAdmin(TenantScopedAdmin):
    """Rows a shop may own (``shop``; blank: the platform's): a shop's staff neither see nor pick the field, their
    rows are their shop's (tenancy scopes the list and every object)."""

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = tuple(super().get_exclude(request, obj) or ())
        return (*excluded, "shop") if is_merchant_staff(request.user) else excluded

    def get_list_display(self, request: HttpRequest) -> Any:
        shown_columns = tuple(super().get_list_display(request))
        return shown_columns if is_merchant_staff(request.user) else (*shown_columns, "shop")

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = tuple(super().get_list_filter(request))
        return filters if is_merchant_staff(request.user) else (*filters, ("shop", admin.EmptyFieldListFilter))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if is_merchant_staff(request.user):
            obj.shop_id = merchant_id_of(request.user)
        super().save_model(request, obj, form, change)


MISSED_DAYS = 7


def may_see_missed(user: Actor) -> bool:
    """Supervisors (``chat.view_missed_questions``); never a merchant's own staff: the misses span every merchant."""
    return bool(user.is_active and user.is_staff and user.has_perm("chat.view_missed_questions")) and not (
        is_merchant_staff(user)
    )


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(ShopOwnedAdmin):
    list_display = ("title", "language", "active", "updated_at")
    list_filter = ("language", "active")
    search_fields = ("title", "questions", "answer")
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)
    actions = ["rebuild_index"]

    def get_urls(self) -> list[Any]:
        missed = self.admin_site.admin_view(self.missed_view)
        return [path("missed/", missed, name="chat_knowledgearticle_missed"), *super().get_urls()]

    def missed_view(self, request: HttpRequest) -> HttpResponse:
        """Supervisors: the questions the bot missed in the last 7 days, grouped; teach one to an article."""
        if not may_see_missed(actor(request)):
            raise PermissionDenied
        if request.method == "POST":
            return self._teach(request)
        since = timezone.now() - timedelta(days=MISSED_DAYS)
        # Consumers' own words: their numbers are masked for whoever may not see them.
        groups = [{**g, "question": shown(g["question"], request.user)} for g in selectors.missed_questions(since)]
        chosen = [{**c, "question": shown(c["question"], request.user)} for c in choices.suggested_wordings()]
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": _("Questions the bot missed"),
            "groups": groups, "days": MISSED_DAYS, "chosen": chosen, "learn_at": settings.CHAT_CHOICE_LEARN_CONSUMERS,
            "articles": KnowledgeArticle.objects.filter(active=True).only("pk", "title", "language"),
            "may_teach": learning.may_add_wording(actor(request)),
        }  # fmt: skip
        return TemplateResponse(request, "admin/chat/knowledgearticle/missed.html", context)

    def _teach(self, request: HttpRequest) -> HttpResponse:
        raw = str(request.POST.get("article", ""))
        article = KnowledgeArticle.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 else None
        try:
            if article is None:
                raise ValidationError(_("Choose an article."))
            added = learning.add_wording(article, request.POST.get("question", ""), actor(request))
        except ValidationError as problem:  # ChatError is one too (forbidden, inactive article)
            self.message_user(request, " ".join(problem.messages), messages.ERROR)
        else:
            done = _("Added to “%(title)s”; the bot answers it now.") if added else _("“%(title)s” already reads so.")
            self.message_user(request, done % {"title": article.title}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:chat_knowledgearticle_missed"))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra = {"may_see_missed": may_see_missed(actor(request)), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def save_model(self, request: HttpRequest, obj: KnowledgeArticle, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _reindex_later(obj.pk)

    def delete_model(self, request: HttpRequest, obj: KnowledgeArticle) -> None:
        pk = obj.pk
        super().delete_model(request, obj)
        _reindex_later(pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KnowledgeArticle]) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        KnowledgeArticle.forget_scopes()  # a bulk delete does not call each row's delete()
        for pk in pks:
            _reindex_later(pk)

    @admin.action(description=_("Rebuild the bot's search index"), permissions=["change"])
    def rebuild_index(self, request: HttpRequest, queryset: QuerySet[KnowledgeArticle]) -> None:
        transaction.on_commit(tasks.index_knowledge_base.delay)
        self.message_user(request, _("The index is being rebuilt; the bot uses it within seconds."))


@admin.register(ProactiveRule)
class ProactiveRuleAdmin(ShopOwnedAdmin):
    list_display = ("name", "condition", "days", "language", "priority", "active")
    list_filter = ("condition", "language", "active")
    search_fields = ("name", "message")
    list_select_related = ("shop",)
    raw_id_fields = ("shop",)
    list_editable = ("priority", "active")


@admin.register(HandoffPhrase)
class HandoffPhraseAdmin(TenantScopedAdmin):
    """Supervisors' list of phrases that hand a chat to a person (on top of the built-in ones)."""

    list_display = ("phrase", "language", "active")
    list_filter = ("language", "active")
    search_fields = ("phrase",)
    list_select_related = ()
    list_editable = ("active",)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[HandoffPhrase]) -> None:
        super().delete_queryset(request, queryset)
        HandoffPhrase.forget_phrases()  # a bulk delete does not call each row's delete()


@admin.register(Synonym)
class SynonymAdmin(TenantScopedAdmin):
    """Supervisors' synonym table: words the bot reads as one concept; every process uses a change within seconds."""

    list_display = ("name", "terms", "active", "updated_at")
    list_filter = ("active",)
    search_fields = ("name", "terms")
    list_select_related = ()
    list_editable = ("active",)
    ordering = ("name",)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Synonym]) -> None:
        super().delete_queryset(request, queryset)
        Synonym.forget_groups()  # a bulk delete does not call each row's delete()


def _reindex_later(article_id: int) -> None:
    """Once the change is committed, through the index's single writer (the Celery ``search`` queue)."""
    transaction.on_commit(partial(tasks.index_knowledge_article.delay, article_id))


CONSOLE_STRINGS = {
    "queue": _("Waiting queue"),
    "empty_queue": _("Nobody is waiting."),
    "no_chats": _("No active chats. Accept one from the queue."),
    "accept": _("Accept"),
    "send": _("Send"),
    "note": _("Internal note"),
    "resolve": _("Resolve"),
    "transfer": _("Transfer"),
    "transfer_to": _("Transfer to…"),
    "to_agent": _("Agent"),
    "to_department": _("Department"),
    "refund": _("Refund"),
    "nominate": _("Nominate to the radio"),
    "canned": _("Canned replies…"),
    "placeholder": _("Write to the consumer… (Enter sends, Shift+Enter for a new line)"),
    "availability": _("Taking chats"),
    "available": _("Available"),
    "away": _("Away"),
    "my_chats": _("My chats"),
    "shortcuts": _("Alt+↓/↑ next/previous chat · Alt+1…9 a chat · Alt+C canned replies · Enter sends"),
    "new_message": _("New message from %(name)s"),
    "new_message_title": _("New message"),
    "unread": _("unread messages"),
    "ended": _("ended"),
    "left": _("left"),
    "following": _("following"),
    "more_orders": _("%(n)s more orders"),
    "confirm_refund": _("Refund ¥%(amount)s on order %(order)s?"),
    "chats": _("chats"),
    "waited": _("waiting"),
    "callback": _("Callback promised"),
    "priority": _("Priority"),
    "tier": _("Tier"),
    "score": _("Credit score"),
    "flags": _("Risk flags"),
    "no_flags": _("No risk flags."),
    "orders": _("Recent orders"),
    "no_orders": _("No orders."),
    "summary": _("Bot's summary"),
    "ticket": _("Ticket"),
    "connected": _("Connected"),
    "disconnected": _("Reconnecting…"),
    "new_chat": _("A consumer is waiting for an agent"),
    "closed": _("This chat has ended."),
    "moved": _("This chat left your console."),
    "watching": _("You are following this chat; only the agent who holds it can reply."),
    "hours_minutes": _("%(hours)sh %(minutes)sm"),
    "confirm_resolve": _("Resolve this chat?"),
    "amount": _("amount"),
    "position": _("No."),
    "consumer": _("Consumer"),
    "bot": _("Bot"),
    "system": _("System"),
    "agent": _("Agent"),
    "internal": _("Internal note"),
    "refunded": _("refunded"),
    "error": _("Error"),
    "teach": _("Teach the bot"),
    "teach_question": _("The consumer's question…"),
    "teach_article": _("…is answered by the article"),
    "taught": _("Added: the bot answers it now."),
    "already_taught": _("The article already reads so."),
    "attach": _("Send an image"),
    "image": _("Image"),
    "typing": _("typing…"),
    "upload_failed": _("The image could not be sent; try again."),
}
