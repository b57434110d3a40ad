"""Live chat's models, one module per family: a conversation with a consumer (with its satisfaction rating and
attachments), the bot's knowledge base (articles, synonyms, chosen answers), and what the bot acts on (proactive
rules, handoff phrases).

Import them from here (``from chat.models import ChatSession``)."""

from __future__ import annotations

from chat.models.knowledge import ChosenAnswer, KnowledgeArticle, Synonym
from chat.models.sessions import ChatAttachment, ChatSession, Language, Satisfaction
from chat.models.triggers import HandoffPhrase, ProactiveRule

__all__ = [
    "ChatAttachment",
    "ChatSession",
    "ChosenAnswer",
    "HandoffPhrase",
    "KnowledgeArticle",
    "Language",
    "ProactiveRule",
    "Satisfaction",
    "Synonym",
]
