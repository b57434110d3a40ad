"""Every admin list filter by language, and the article picker of the missed questions, show the languages'
names, never their codes ("en", "zh")."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from chat import services as chat_services
from chat.models import KnowledgeArticle
from tests.chat.support import plain_consumer

pytestmark = pytest.mark.django_db

LANGUAGE_FILTERED = sorted(
    f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    for model, model_admin in admin.site._registry.items()
    if "language" in model_admin.list_filter
)
CHOICE = re.compile(r'<a href="\?language__exact=[^"]*"[^>]*>([^<]+)</a>')


def test_the_admins_with_a_language_filter_are_the_ones_we_know() -> None:
    assert LANGUAGE_FILTERED == [
        "/admin/chat/chatsession/", "/admin/chat/handoffphrase/", "/admin/chat/knowledgearticle/",
        "/admin/chat/proactiverule/", "/admin/qa/recording/", "/admin/qa/transcript/", "/admin/tickets/cannedreply/",
    ]  # fmt: skip


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("url", LANGUAGE_FILTERED)
def test_a_language_filter_shows_language_names(
    make_user: Callable[..., User], client_for: Callable[[User], Client], url: str, language: str
) -> None:
    client = client_for(make_user("root", is_superuser=True))
    with translation.override(language):
        response = client.get(url, headers={"accept-language": language})
    assert response.status_code == 200
    shown = {text.strip() for text in CHOICE.findall(response.content.decode())}
    assert shown, url
    assert not shown & {"en", "zh", "zh-hans"}, shown


def test_the_missed_questions_page_names_the_articles_language(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    KnowledgeArticle.objects.create(title="Invoices", answer="...", language="en")
    consumer = plain_consumer()
    chat_services.start_chat(consumer.pk, "zh-hans")
    chat_services.consumer_message(consumer.pk, "zh-hans", "冰箱能寄吗")
    html = client_for(make_user("boss", "supervisor")).get("/admin/chat/knowledgearticle/missed/").content.decode()
    assert "Invoices (English)" in html and "(en)" not in html
