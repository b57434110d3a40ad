"""Images sent in a live chat, both ways: stored after the media checks (``core.images``), then sent as a message.

A consumer sends an image into their live chat (``consumer_image``), an agent into a chat they hold
(``agent_image``). Either way the image is checked (type from its bytes, size, a full decode), turned upright
and stripped of its EXIF (a phone photo's GPS position), stored under ``MEDIA_ROOT/chat/``, and carried by a
chat message on the ticket's timeline (``data.attachment``), which goes to the other side after commit like
any message. Each upload names an idempotency key: a retry with the same
key finds the first message (the chat's row lock orders concurrent retries, and a unique constraint is the
last word), so a flaky connection never sends one image twice. Files are read only through
``chat.api_attachments`` views that check who asks (``attachment_for_consumer``, ``attachment_for_staff``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat.conversation import ChatError, author_name, message_frame
from chat.groups import consumer_group, send_frame, staff_group
from chat.models import ChatAttachment, ChatSession
from core.images import ImageFacts, check_image, without_metadata
from core.tenancy import scope
from core.users import Actor
from tickets import services as ticket_services
from tickets.models import TicketEvent

State, Author = ChatSession.State, TicketEvent.Author
FIELD = "image"


def check_chat_image(upload: Any) -> ImageFacts:
    """The checks every chat image passes before anything is stored: a ValidationError on ``image`` otherwise."""
    return check_image(upload, field=FIELD, max_bytes=settings.CHAT_ATTACHMENT_MAX_MB * 1024 * 1024,
                       max_pixels=settings.CHAT_ATTACHMENT_MAX_PIXELS)  # fmt: skip


@transaction.atomic
def consumer_image(consumer_id: int, upload: Any, *, key: str, shop_id: int | None = None,
                   now: datetime | None = None) -> tuple[ChatAttachment, bool]:  # fmt: skip
    """The consumer sends an image into their live chat (the one their token opens); (attachment, created)."""
    now = now or timezone.now()
    stored_key = f"consumer:{key}"  # one message per chat and key: a key used in an earlier chat starts afresh
    facts = check_chat_image(upload)
    chat = (
        ChatSession.objects.filter(consumer_id=consumer_id, shop_id=shop_id)
        .exclude(state=State.ENDED)
        .select_related("ticket")
        .select_for_update(of=("self",))
        .first()
    )
    if chat is None:
        raise ChatError("no_chat", _("There is no open chat to send the image to; open the chat first."))
    first = _sent_before(chat.attachments.all(), stored_key)  # a retry, or a twin that waited on the lock
    if first is not None:
        return first, False
    attachment = _attach(chat, upload, facts, ChatAttachment.Sender.CONSUMER, None, stored_key, now)
    chat.last_activity_at = now
    chat.save(update_fields=["last_activity_at"])
    return attachment, True


@transaction.atomic
def agent_image(chat_id: int, agent: Actor, upload: Any, *, key: str,
                now: datetime | None = None) -> tuple[ChatAttachment, bool]:  # fmt: skip
    """An agent sends an image into a chat they hold (like a reply: it stops the requeue timer); (attachment,
    created). Another desk's chat is as absent as a made-up one."""
    now = now or timezone.now()
    stored_key = f"agent.{agent.pk}:{key}"
    chat = (
        scope(ChatSession.objects.filter(pk=chat_id), agent)
        .select_related("ticket")
        .select_for_update(of=("self",))
        .first()
    )
    if chat is None:
        raise ChatError("not_found", _("There is no such chat."))
    first = _sent_before(chat.attachments.all(), stored_key)
    if first is not None:
        return first, False
    if chat.state != State.ACTIVE or chat.agent_id != agent.pk:
        raise ChatError("not_yours", _("This chat is not yours to act on."))
    facts = check_chat_image(upload)
    attachment = _attach(chat, upload, facts, ChatAttachment.Sender.AGENT, agent, stored_key, now)
    chat.answered_at = chat.answered_at or now
    chat.last_activity_at = now
    chat.save(update_fields=["answered_at", "last_activity_at"])
    return attachment, True


def _sent_before(attachments: Any, stored_key: str) -> ChatAttachment | None:
    return attachments.filter(key=stored_key).select_related("event__author", "chat").first()


def _attach(chat: ChatSession, upload: Any, facts: ImageFacts, sender: str, agent: Actor | None, stored_key: str,
            now: datetime) -> ChatAttachment:  # fmt: skip
    """Store the file, without what a photo says about its taker (GPS, camera: ``without_metadata``), and the
    message carrying it (the caller holds the chat's lock), then send the message to both sides after commit."""
    upload, facts = without_metadata(upload, facts)
    with translation.override(chat.language):
        label = _("[Image]")  # the timeline's text for the message: what a reader of the ticket or QA sees
    details = {"type": facts.content_type, "width": facts.width, "height": facts.height, "size": facts.size}
    event = ticket_services.add_message(
        chat.ticket, body=str(label), author_kind=Author.AGENT if agent is not None else Author.CONSUMER,
        author=agent, now=now, data={"attachment": details},
    )  # fmt: skip
    attachment = ChatAttachment(chat=chat, event=event, sender=sender, author=agent, content_type=facts.content_type,
                                size=facts.size, width=facts.width, height=facts.height, key=stored_key,
                                created_at=now)  # fmt: skip
    # A name of our own: the uploader's file name says nothing we trust and may say what it should not.
    attachment.file.save(f"{uuid.uuid4().hex}.{facts.extension}", upload, save=False)
    try:
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)
        raise
    frame = message_frame(chat, event, author_name(event))
    send_frame(consumer_group(chat.consumer_id), frame)
    if chat.state != State.BOT:  # consoles follow a chat from its handoff on
        send_frame(staff_group(chat.pk), frame)
    return attachment


# --- reading ---------------------------------------------------------------------------------------------


def attachment_for_consumer(event_id: int, consumer_id: int) -> ChatAttachment | None:
    """The image of message ``event_id`` when it is in one of this consumer's chats; None otherwise."""
    return ChatAttachment.objects.filter(event_id=event_id, chat__consumer_id=consumer_id).first()


def may_read_attachments(user: Actor) -> bool:
    """Staff who read chats: the console's users and whoever may open the ticket the chat belongs to."""
    return bool(user.is_authenticated and user.is_active and user.is_staff
                and (user.has_perm("chat.use_chat_console") or user.has_perm("tickets.view_ticket")))  # fmt: skip


def attachment_for_staff(event_id: int, user: Actor) -> ChatAttachment | None:
    """The image of message ``event_id`` within this user's tenancy (merchant staff: their shop's chats only)."""
    return scope(ChatAttachment.objects.filter(event_id=event_id), user).first()
