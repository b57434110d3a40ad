"""The bot learns from people: a consumer's question that an agent or supervisor attaches to an article
becomes another wording of it, and the bot answers it from then on.

``add_wording`` checks who teaches and what, then appends to ``KnowledgeArticle.questions`` and re-indexes the
article (``chat.wordings``), as an edit in the admin does;
``learn_from_chat`` takes the words from a consumer's message in a chat the agent held (the console's
``learn`` frame); the missed-questions page calls ``add_wording`` with the question it shows.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from chat.conversation import ChatError
from chat.models import ChatSession, KnowledgeArticle
from chat.wordings import MAX_WORDING, append_wording
from core.tenancy import allows, is_merchant_staff, merchant_id_of, scope
from core.users import Actor
from tickets.models import TicketEvent


def may_add_wording(user: Actor) -> bool:
    """Whether ``user`` may teach the bot a wording (agents and supervisors; a shop's own staff, to their shop's
    articles only: ``add_wording`` checks the article)."""
    if is_merchant_staff(user) and merchant_id_of(user) is None:
        return False
    return bool(user.is_active and user.has_perm("chat.add_wording"))


def add_wording(article: KnowledgeArticle, text: str, by: Actor) -> bool:
    """Append ``text`` (one line) to the article's other wordings and re-index it after the commit
    (``wordings.append_wording``). False when the article already reads so (its title or a wording, case and
    width folded)."""
    if not may_add_wording(by) or not allows(by, article):
        raise ChatError("forbidden", _("You may not teach the bot new wordings."))
    wording = " ".join(text.split())
    if not wording:
        raise ValidationError({"text": _("The wording is empty.")})
    if len(wording) > MAX_WORDING:
        raise ValidationError({"text": _("A wording may have at most %(n)s characters.") % {"n": MAX_WORDING}})
    added = append_wording(article.pk, wording)
    if added is None:
        raise ChatError("bad_article", _("There is no such active article."))
    return added


def learn_from_chat(chat_id: int, message_id: int, article_id: int, agent: Actor) -> bool:
    """The console's "teach the bot": the consumer's message ``message_id`` of a chat ``agent`` holds or held
    becomes another wording of article ``article_id``."""
    chat = ChatSession.objects.filter(pk=chat_id).only("ticket_id", "agent_id").first()
    if chat is None or chat.agent_id != agent.pk:
        raise ChatError("not_yours", _("This chat is not yours to act on."))
    message = TicketEvent.objects.filter(pk=message_id, ticket_id=chat.ticket_id, kind=TicketEvent.Kind.MESSAGE,
                                         author_kind=TicketEvent.Author.CONSUMER).first()  # fmt: skip
    if message is None:
        raise ChatError("bad_message", _("That is not a message of the consumer in this chat."))
    article = scope(KnowledgeArticle.objects.filter(pk=article_id), agent).first()  # a shop's staff: its own only
    if article is None:
        raise ChatError("bad_article", _("There is no such active article."))
    return add_wording(article, message.body, agent)
