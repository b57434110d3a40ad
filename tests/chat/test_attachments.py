"""Images in a live chat over HTTP: the consumer's upload (chat token) and the agent's (session), the media checks
(type from the bytes, size, a full decode), idempotent retries, and who may read an image back."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chat import desk, services
from chat.models import ChatAttachment, ChatSession
from chat.tokens import issue_token
from core import roles
from merchants.models import MerchantMembership
from tests.chat.support import make_agent, plain_consumer, staffed_all_day
from tests.crm import factories as f
from tickets.models import Ticket, TicketEvent

UPLOAD = "/api/chat/attachments/"
CONSOLE_UPLOAD = "/api/chat/console/attachments/"
PAGE_QUERIES = 13  # the ticket page of a chat held by an agent, after a first view warmed the caches


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    staffed_all_day(settings)
    settings.MEDIA_ROOT = tmp_path / "media"  # the tests' images stay out of var/media


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def upload(data: bytes, name: str = "photo.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def consumer_post(client: Client, token: str, data: bytes, *, key: str = "k1", **file: Any) -> Any:
    return client.post(UPLOAD, {"image": upload(data, **file), "key": key}, HTTP_AUTHORIZATION=f"Chat-Token {token}")


def live_chat(**consumer: Any) -> tuple[ChatSession, str]:
    who = plain_consumer(**consumer)
    chat, _created = services.start_chat(who.pk, "zh-hans")
    return chat, issue_token(who.pk)


def held_chat(agent: User, **consumer: Any) -> tuple[ChatSession, str]:
    chat, token = live_chat(**consumer)
    services.request_human(chat.consumer_id)
    return desk.accept_chat(chat.pk, agent), token


def messages(chat: ChatSession) -> int:
    return TicketEvent.objects.filter(ticket_id=chat.ticket_id, kind=TicketEvent.Kind.MESSAGE).count()


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "chat"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def staff_client(user: User) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


# --- the consumer's upload ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_consumer_sends_an_image_typed_by_its_bytes_into_their_live_chat(settings: Any) -> None:
    chat, token = live_chat()
    before = messages(chat)
    # A PNG whatever its name and the browser's word: the type comes from the bytes.
    response = consumer_post(
        Client(), token, image_bytes("PNG", (40, 30)), name="holiday.gif", content_type="text/plain"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    event = TicketEvent.objects.get(pk=body["id"])
    assert body["chat"] == chat.pk
    assert event.author_kind == TicketEvent.Author.CONSUMER and event.body == "[图片]"
    size = len(image_bytes("PNG", (40, 30)))
    assert body["message"]["data"]["attachment"] == {
        "type": "image/png", "width": 40, "height": 30, "size": size, "url": f"/api/chat/attachments/{event.pk}/",
    }  # fmt: skip
    assert body["message"]["from"] == "consumer" and body["message"]["text"] == "[图片]"
    attachment = ChatAttachment.objects.get(event=event)
    assert (attachment.chat_id, attachment.sender, attachment.content_type) == (chat.pk, "consumer", "image/png")
    assert attachment.file.name.endswith(".png") and "holiday" not in attachment.file.name
    assert messages(chat) == before + 1
    assert [p.read_bytes() for p in stored_files(settings)] == [image_bytes("PNG", (40, 30))]


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_jpeg_webp_and_gif_are_accepted_and_typed(fmt: str, mime: str) -> None:
    _chat, token = live_chat()
    response = consumer_post(Client(), token, image_bytes(fmt), name="x.png")
    assert response.status_code == 201, response.content
    assert response.json()["message"]["data"]["attachment"]["type"] == mime


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n1 0 obj<<>>endobj\n", "Only JPEG, PNG, WebP or GIF images can be sent."),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "Only JPEG, PNG, WebP or GIF images can be sent."),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 40, "The image is damaged or incomplete and cannot be shown."),
        (image_bytes("JPEG", (200, 200))[:300], "The image is damaged or incomplete and cannot be shown."),
    ],
    ids=["pdf", "svg", "png-header-garbage", "truncated-jpeg"],
)
def test_anything_but_a_whole_image_is_refused_naming_the_field_and_nothing_is_stored(
    settings: Any, data: bytes, message: str
) -> None:
    chat, token = live_chat()
    before = messages(chat)
    response = consumer_post(Client(HTTP_ACCEPT_LANGUAGE="en"), token, data)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": "Invalid input.", "errors": {"image": [message]}}
    assert messages(chat) == before
    assert ChatAttachment.objects.count() == 0
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_an_image_over_the_size_limit_is_refused_naming_the_field(settings: Any) -> None:
    settings.CHAT_ATTACHMENT_MAX_MB = 1
    _chat, token = live_chat()
    big = image_bytes("PNG", (8, 8)) + b"\0" * (1024 * 1024)  # a valid header, 1 MB past the limit
    response = consumer_post(Client(HTTP_ACCEPT_LANGUAGE="en"), token, big)
    assert response.status_code == 400
    assert response.json()["errors"] == {"image": ["The image is 1.0 MB; images of at most 1 MB are accepted."]}
    assert ChatAttachment.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_an_image_of_too_many_pixels_is_refused(settings: Any) -> None:
    settings.CHAT_ATTACHMENT_MAX_PIXELS = 1000
    _chat, token = live_chat()
    response = consumer_post(Client(HTTP_ACCEPT_LANGUAGE="en"), token, image_bytes("PNG", (100, 100)))
    assert response.status_code == 400
    assert response.json()["errors"] == {"image": ["The image has too many pixels (100 × 100)."]}
    assert ChatAttachment.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_or_key_is_refused_naming_the_field() -> None:
    _chat, token = live_chat()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(UPLOAD, {"key": "k"}, HTTP_AUTHORIZATION=f"Chat-Token {token}")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["image"]
    response = client.post(UPLOAD, {"image": upload(image_bytes())}, HTTP_AUTHORIZATION=f"Chat-Token {token}")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["key"]
    assert ChatAttachment.objects.count() == 0


@pytest.mark.django_db
def test_an_upload_without_a_valid_chat_token_is_refused() -> None:
    chat, _token = live_chat()
    client = Client()
    assert client.post(UPLOAD, {"image": upload(image_bytes()), "key": "k"}).status_code == 401
    forged = client.post(UPLOAD, {"image": upload(image_bytes()), "key": "k"}, HTTP_AUTHORIZATION="Chat-Token x:y:z")
    assert forged.status_code == 401 and forged.json()["code"] == "authentication_failed"
    assert messages(chat) == 1  # the greeting only
    assert ChatAttachment.objects.count() == 0


@pytest.mark.django_db
def test_a_consumer_without_a_live_chat_gets_409() -> None:
    who = plain_consumer()
    response = consumer_post(Client(), issue_token(who.pk), image_bytes())
    assert response.status_code == 409 and response.json()["code"] == "no_chat"
    assert ChatAttachment.objects.count() == 0


@pytest.mark.django_db
def test_a_retried_consumer_upload_with_the_same_key_sends_one_message(settings: Any) -> None:
    chat, token = live_chat()
    before = messages(chat)
    first = consumer_post(Client(), token, image_bytes(), key="retry-1")
    again = consumer_post(Client(), token, image_bytes(), key="retry-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert messages(chat) == before + 1 and ChatAttachment.objects.count() == 1
    assert len(stored_files(settings)) == 1
    other = consumer_post(Client(), token, image_bytes(color="blue"), key="retry-2")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert messages(chat) == before + 2


@pytest.mark.django_db
def test_a_key_used_in_an_ended_chat_sends_the_image_into_the_new_chat(settings: Any) -> None:
    chat, token = live_chat()
    assert consumer_post(Client(), token, image_bytes(), key="1").status_code == 201
    services.end_chat_by_consumer(chat.consumer_id)
    new, _created = services.start_chat(chat.consumer_id, "zh-hans")
    again = consumer_post(Client(), token, image_bytes(color="blue"), key="1")
    assert again.status_code == 201
    assert list(ChatAttachment.objects.order_by("pk").values_list("chat_id", flat=True)) == [chat.pk, new.pk]


# --- the agent's upload ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_agent_sends_an_image_into_a_chat_they_hold_and_it_counts_as_the_first_reply(
    make_user: Callable[..., User],
) -> None:
    agent = make_agent(make_user, "img-agent")
    agent.first_name = "小王"
    agent.save()
    chat, _token = held_chat(agent)
    response = staff_client(agent).post(CONSOLE_UPLOAD, {"chat": chat.pk, "image": upload(image_bytes("JPEG")),
                                                         "key": "a1"})  # fmt: skip
    assert response.status_code == 201, response.content
    message = response.json()["message"]
    assert (message["from"], message["name"], message["data"]["attachment"]["type"]) == ("agent", "小王", "image/jpeg")
    event = TicketEvent.objects.get(pk=message["id"])
    assert event.author == agent
    chat.refresh_from_db()
    assert chat.answered_at == event.created_at  # the requeue timer stops as for a reply
    assert Ticket.objects.get(pk=chat.ticket_id).first_response_at == event.created_at
    again = staff_client(agent).post(CONSOLE_UPLOAD, {"chat": chat.pk, "image": upload(image_bytes("JPEG")),
                                                      "key": "a1"})  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == event.pk
    assert ChatAttachment.objects.count() == 1


@pytest.mark.django_db
def test_an_agent_cannot_send_an_image_into_a_chat_they_do_not_hold(make_user: Callable[..., User]) -> None:
    holder, other = make_agent(make_user, "holder"), make_agent(make_user, "other")
    chat, _token = held_chat(holder)
    before = messages(chat)
    response = staff_client(other).post(CONSOLE_UPLOAD, {"chat": chat.pk, "image": upload(image_bytes()), "key": "x"})
    assert response.status_code == 403 and response.json()["code"] == "not_yours"
    missing = staff_client(other).post(CONSOLE_UPLOAD, {"chat": 999_999, "image": upload(image_bytes()), "key": "x"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert messages(chat) == before and ChatAttachment.objects.count() == 0


@pytest.mark.django_db
def test_staff_without_the_console_cannot_upload_and_the_upload_needs_csrf(make_user: Callable[..., User]) -> None:
    agent = make_agent(make_user, "csrf-agent")
    chat, _token = held_chat(agent)
    business = make_user("biz", roles.BUSINESS)
    refused = staff_client(business).post(CONSOLE_UPLOAD, {"chat": chat.pk, "image": upload(image_bytes()), "key": "k"})
    assert refused.status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    no_csrf = strict.post(CONSOLE_UPLOAD, {"chat": chat.pk, "image": upload(image_bytes()), "key": "k"})
    assert no_csrf.status_code == 403
    assert Client().post(CONSOLE_UPLOAD, {"chat": chat.pk, "key": "k"}).status_code in (401, 403)
    assert ChatAttachment.objects.count() == 0


# --- reading an image back ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_who_may_read_a_chat_image(make_user: Callable[..., User]) -> None:
    shop, other_shop = f.merchant("SHOP-IMG", name="图片店"), f.merchant("SHOP-OTHER", name="别家店")
    shop.takes_chats = other_shop.takes_chats = True
    shop.save()
    other_shop.save()
    who = plain_consumer()
    services.start_chat(who.pk, "zh-hans", shop_id=shop.pk)
    token = issue_token(who.pk, shop.pk)
    sent = consumer_post(Client(), token, image_bytes("PNG", (12, 10)))
    assert sent.status_code == 201, sent.content
    url = sent.json()["message"]["data"]["attachment"]["url"]
    png = image_bytes("PNG", (12, 10))

    own = Client().get(url, {"token": token})
    assert own.status_code == 200 and own["Content-Type"] == "image/png"
    assert b"".join(own.streaming_content) == png  # type: ignore[attr-defined]
    assert own["X-Content-Type-Options"] == "nosniff"
    by_header = Client().get(url, HTTP_AUTHORIZATION=f"Chat-Token {token}")
    assert by_header.status_code == 200

    stranger = issue_token(plain_consumer().pk)
    assert Client().get(url, {"token": stranger}).status_code == 404
    assert Client().get(url).status_code == 401

    def staff(name: str, role: str, merchant: Any = None) -> Client:
        user = make_user(name, role)
        if merchant is not None:
            MerchantMembership.objects.create(user=user, merchant=merchant)
        return staff_client(user)

    assert staff("plat-agent", roles.AGENT).get(url).status_code == 200
    assert staff("plat-sup", roles.SUPERVISOR).get(url).status_code == 200
    assert staff("own-shop", roles.MERCHANT_STAFF, shop).get(url).status_code == 200
    assert staff("other-shop", roles.MERCHANT_STAFF, other_shop).get(url).status_code == 404
    assert staff("biz", roles.BUSINESS).get(url).status_code == 403
    assert staff("plat-agent2", roles.AGENT).get("/api/chat/attachments/999999/").status_code == 404


@pytest.mark.django_db
def test_a_platform_chat_image_is_out_of_every_shops_reach(make_user: Callable[..., User]) -> None:
    _chat, token = live_chat()
    url = consumer_post(Client(), token, image_bytes()).json()["message"]["data"]["attachment"]["url"]
    shop = f.merchant("SHOP-NOPE", name="店")
    staff = make_user("shop-staff", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    assert staff_client(staff).get(url).status_code == 404


# --- the ticket page ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ticket_page_shows_the_chats_images_in_the_conversation_at_a_fixed_query_count(
    make_user: Callable[..., User], django_assert_num_queries: Any
) -> None:
    agent = make_agent(make_user, "page-agent")
    chat, token = held_chat(agent)
    page = f"/admin/tickets/ticket/{chat.ticket_id}/change/"
    client = staff_client(agent)
    first = consumer_post(Client(), token, image_bytes(), key="p1").json()["id"]
    client.get(page)  # warm the caches a first page view fills
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(page)
    html = response.content.decode()
    assert f'<img src="/api/chat/attachments/{first}/"' in html
    for key in ("p2", "p3"):
        consumer_post(Client(), token, image_bytes(color="blue"), key=key)
    with django_assert_num_queries(PAGE_QUERIES):  # the images cost no query of their own
        response = client.get(page)
    assert response.content.decode().count('<img src="/api/chat/attachments/') == 3


# --- metadata ----------------------------------------------------------------------------------------------


def phone_photo() -> bytes:
    """A JPEG as a phone saves it: 40 × 20 pixels stored sideways (orientation 6), with the GPS position."""
    image = Image.new("RGB", (40, 20), "red")
    image.paste((0, 0, 255), (0, 0, 10, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.django_db
def test_a_consumers_photo_is_stored_without_its_gps_and_keeps_its_orientation(settings: Any) -> None:
    _chat, token = live_chat()
    response = consumer_post(Client(), token, phone_photo(), name="IMG_0001.jpg", content_type="image/jpeg")
    assert response.status_code == 201, response.content
    [stored] = stored_files(settings)
    image = Image.open(stored)
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert image.size == (20, 40)  # turned upright: the blue strip on the left of the sensor is now on top
    red, _green, blue = image.convert("RGB").getpixel((10, 3))  # type: ignore[misc]
    assert blue > 200 and red < 60
    details = response.json()["message"]["data"]["attachment"]
    assert (details["width"], details["height"], details["size"]) == (20, 40, stored.stat().st_size)
    attachment = ChatAttachment.objects.get()
    assert (attachment.width, attachment.height, attachment.size) == (20, 40, stored.stat().st_size)


@pytest.mark.django_db
def test_an_agents_photo_is_stored_without_its_gps(make_user: Callable[..., User], settings: Any) -> None:
    agent = make_agent(make_user, "gps-agent")
    chat, _token = held_chat(agent)
    response = staff_client(agent).post(
        CONSOLE_UPLOAD, {"chat": chat.pk, "image": upload(phone_photo(), "a.jpg", "image/jpeg"), "key": "g1"}
    )
    assert response.status_code == 201, response.content
    [stored] = stored_files(settings)
    assert dict(Image.open(stored).getexif()) == {} and Image.open(stored).size == (20, 40)
