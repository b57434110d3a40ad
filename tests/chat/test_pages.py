"""The chat's HTTP side: the token endpoint (staff or the platform's key), the chat_token command, the /chat/
demo page, the console page, the admin of live chats, the knowledge base and its index."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat import knowledge, services
from chat.models import ChatSession, KnowledgeArticle
from chat.tokens import issue_token, read_token
from core import roles
from tests.chat.support import knowledge_base, plain_consumer

pytestmark = pytest.mark.django_db
URL = "/api/chat/tokens/"


# --- tokens ----------------------------------------------------------------------------------------


def test_tokens_identify_one_consumer_and_reject_everything_else() -> None:
    assert read_token(issue_token(42)) == 42
    assert read_token("") is None and read_token("42") is None and read_token("x" * 600) is None
    signed, signature = issue_token(42).rsplit(":", 1)
    # The signature's first character changed (its last one carries padding bits that may not count).
    forged = f"{signed}:{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert read_token(forged) is None


def test_anonymous_callers_get_no_token() -> None:
    consumer = plain_consumer()
    assert Client().post(URL, {"consumer": consumer.external_id}).status_code == 401  # WWW-Authenticate: Api-Key


def test_agents_may_not_issue_tokens(agent: User, client_for: Callable[[User], Client]) -> None:
    consumer = plain_consumer()
    assert client_for(agent).post(URL, {"consumer": consumer.external_id}).status_code == 403


def test_supervisors_issue_a_token_that_opens_the_consumers_chat(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    consumer = plain_consumer()
    response = client_for(supervisor).post(URL, {"consumer": consumer.external_id})
    assert response.status_code == 201
    body = response.json()
    assert read_token(body["token"]) == consumer.pk
    assert body["socket"] == f"/ws/chat/?token={body['token']}" and body["expires_in"] == 86400


def test_the_platform_key_issues_tokens_and_a_wrong_key_is_refused(settings: Any) -> None:
    settings.CHAT_PLATFORM_API_KEY = "s3cret-platform-key"
    consumer = plain_consumer()
    good = Client().post(URL, {"consumer": consumer.external_id}, HTTP_AUTHORIZATION="Api-Key s3cret-platform-key")
    assert good.status_code == 201 and read_token(good.json()["token"]) == consumer.pk
    bad = Client().post(URL, {"consumer": consumer.external_id}, HTTP_AUTHORIZATION="Api-Key guess")
    assert bad.status_code == 401


def test_no_key_is_accepted_while_none_is_configured(settings: Any) -> None:
    settings.CHAT_PLATFORM_API_KEY = ""
    consumer = plain_consumer()
    response = Client().post(URL, {"consumer": consumer.external_id}, HTTP_AUTHORIZATION="Api-Key ")
    assert response.status_code == 401


def test_an_unknown_consumer_is_a_400_naming_the_field(settings: Any) -> None:
    settings.CHAT_PLATFORM_API_KEY = "k"
    response = Client().post(URL, {"consumer": "nobody"}, HTTP_AUTHORIZATION="Api-Key k")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["consumer"]
    assert Client().post(URL, {}, HTTP_AUTHORIZATION="Api-Key k").json()["errors"].keys() == {"consumer"}


def test_the_chat_token_command_prints_a_working_token_and_url() -> None:
    consumer = plain_consumer()
    out = StringIO()
    call_command("chat_token", consumer.external_id, stdout=out)
    token = out.getvalue().split("token (valid 86400 s): ")[1].split()[0]
    assert read_token(token) == consumer.pk
    assert f"http://127.0.0.1:8000/chat/?token={token}" in out.getvalue()


# --- the demo page ---------------------------------------------------------------------------------


def test_the_demo_page_explains_how_to_get_a_token_to_anonymous_visitors() -> None:
    response = Client().get("/chat/")
    assert response.status_code == 200
    assert b"chat_token" in response.content and b"chat-config" not in response.content


def test_the_demo_page_with_a_token_shows_the_widget_and_a_bad_one_says_so() -> None:
    consumer = plain_consumer(display_name="周八")
    page = Client().get("/chat/", {"token": issue_token(consumer.pk)})
    assert b'id="chat-config"' in page.content and "周八" in page.content.decode()
    bad = Client().get("/chat/", {"token": "forged"})
    assert b"chat-config" not in bad.content and b'class="error"' in bad.content


def test_a_token_for_a_consumer_removed_since_is_an_invalid_link_not_an_error() -> None:
    consumer = plain_consumer()
    token = issue_token(consumer.pk)
    consumer.delete()
    page = Client().get("/chat/", {"token": token})
    assert page.status_code == 200
    assert b"chat-config" not in page.content and b'class="error"' in page.content


def test_staff_who_may_issue_tokens_pick_a_consumer_on_the_demo_page(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    consumer = plain_consumer()
    client = client_for(supervisor)
    assert consumer.external_id in client.get("/chat/").content.decode()
    chosen = client.post("/chat/", {"consumer": consumer.external_id})
    assert b'id="chat-config"' in chosen.content
    # An agent may not mint tokens: posting a consumer does nothing.
    assert b"chat-config" not in client_for(agent).post("/chat/", {"consumer": consumer.external_id}).content


# --- the console page and the admin -----------------------------------------------------------------


def test_agents_open_the_console(agent: User, client_for: Callable[[User], Client]) -> None:
    response = client_for(agent).get("/admin/chat/chatsession/console/")
    assert response.status_code == 200
    assert b'id="console-config"' in response.content and b"chat/console.js" in response.content


# Merchant staff open their shop's desk (tests/merchants/test_shop_chat_tenancy.py), without a shop they do not.
@pytest.mark.parametrize("role", [roles.BUSINESS, roles.MERCHANT_STAFF])
def test_other_roles_cannot_open_the_console(role: str, make_user: Callable[..., User],
                                             client_for: Callable[[User], Client]) -> None:  # fmt: skip
    user = make_user("outsider", role)
    assert client_for(user).get("/admin/chat/chatsession/console/").status_code == 403


def test_the_console_offers_radio_nomination_only_when_the_radio_is_there(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse("radio:nominate")
    except NoReverseMatch:
        url = ""
    page = client_for(agent).get("/admin/chat/chatsession/console/").content.decode()
    assert f'"nominateUrl": "{url}"' in page  # the console links to the radio's form with ?source=chat&id=<chat>


def test_the_live_chat_list_costs_the_same_queries_for_more_rows(
    supervisor: User, client_for: Callable[[User], Client], settings: Any
) -> None:
    from django.db import connection

    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = "00:00-24:00", "0-6"
    client = client_for(supervisor)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/chat/chatsession/").status_code == 200
        return len(queries)

    services.start_chat(plain_consumer().pk, "zh-hans")
    few = count()
    for _ in range(5):
        services.start_chat(plain_consumer().pk, "zh-hans")
    assert count() == few


def test_supervisors_edit_the_knowledge_base_and_agents_only_read_it(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    data = {"title": "发票", "questions": "", "answer": "开票说明", "language": "zh-hans", "active": "on"}
    assert client_for(agent).post("/admin/chat/knowledgearticle/add/", data).status_code == 403
    assert client_for(agent).get("/admin/chat/knowledgearticle/").status_code == 200
    assert client_for(supervisor).post("/admin/chat/knowledgearticle/add/", data).status_code == 302
    assert KnowledgeArticle.objects.get().answer == "开票说明"


# --- the knowledge base ----------------------------------------------------------------------------


def test_confidence_is_high_for_a_known_question_and_low_for_an_unknown_one() -> None:
    knowledge.reset_searcher()
    knowledge_base()
    hit = knowledge.search("发票怎么开", "zh-hans")
    assert hit is not None and hit.title == "如何开具发票" and hit.confidence >= 0.9
    unknown = knowledge.search("量子计算机的原理", "zh-hans")
    assert unknown is None or unknown.confidence < 0.5
    english = knowledge.search("VAT invoice please", "en")
    assert english is not None and english.title == "How do I get an invoice?"
    # An English question in a Chinese chat is searched in English first (issue 16: language fallback).
    assert knowledge.understand("VAT invoice please", "zh-hans").candidates[0].article.title == english.title


def test_an_inactive_or_deleted_article_leaves_the_index() -> None:
    knowledge.reset_searcher()
    knowledge_base()
    article = KnowledgeArticle.objects.get(title="如何开具发票")
    article.active = False
    article.save(update_fields=["active"])
    assert knowledge.index_article(article.pk) is False
    knowledge.reset_searcher()
    hit = knowledge.search("发票怎么开", "zh-hans")
    assert hit is None or hit.title != "如何开具发票"


def test_the_reindex_command_rebuilds_the_index() -> None:
    knowledge.INDEX.clear()
    KnowledgeArticle.objects.create(
        title="价格保护", questions="降价了怎么办", answer="可以申请价保", language="zh-hans"
    )
    out = StringIO()
    call_command("reindex_knowledge", stdout=out)
    assert out.getvalue().strip() == "Indexed 1 knowledge articles."
    assert knowledge.search("降价了怎么办", "zh-hans").title == "价格保护"  # type: ignore[union-attr]


@pytest.mark.usefixtures("celery_worker")
def test_an_article_saved_in_the_admin_is_indexed_by_the_search_queue_worker(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    import time

    knowledge.INDEX.clear()
    knowledge.reset_searcher()
    supervisor = make_user("kb-editor", roles.SUPERVISOR)
    data = {"title": "运费险理赔", "questions": "退货运费谁出", "answer": "运费险 72 小时内理赔",
            "language": "zh-hans", "active": "on"}  # fmt: skip
    assert client_for(supervisor).post("/admin/chat/knowledgearticle/add/", data).status_code == 302
    deadline = time.monotonic() + 20
    hit = None
    while hit is None and time.monotonic() < deadline:
        time.sleep(0.3)
        knowledge.reset_searcher()
        hit = knowledge.search("退货运费谁出", "zh-hans")
    assert hit is not None and hit.answer == "运费险 72 小时内理赔"
    assert ChatSession.objects.count() == 0


def test_a_signed_out_consumer_opens_the_chat_widget_with_a_token_and_gets_no_consumer_picker() -> None:
    consumer = plain_consumer()
    widget = Client().get(f"/chat/?token={issue_token(consumer.pk)}")
    picker = Client().get("/chat/")
    assert (widget.status_code, picker.status_code) == (200, 200)
    assert widget.context["consumer"] == consumer and "consumers" not in picker.context
