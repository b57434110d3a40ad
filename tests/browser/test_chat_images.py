"""Images and the typing indicator in two real browsers against a real ASGI server (daphne): the consumer types
(the agent sees "typing…") and attaches an image (the agent sees it), the agent answers with an image (the
consumer sees it), and the ticket page shows both in the conversation. In zh-hans and en, desktop and phone,
with screenshots under var/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from PIL import Image, ImageDraw

from chat.admin import CONSOLE_STRINGS
from chat.models import ChatAttachment, ChatSession
from tests.browser.test_live_chat import PASSWORD, asgi_server, make_world, read_in_thread  # noqa: F401

pytestmark = pytest.mark.browser
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}


@pytest.fixture
def media_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The server's MEDIA_ROOT: the test's images stay out of var/media."""
    root = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def server(media_root: Path, asgi_server: str) -> Iterator[str]:  # noqa: F811  (the imported fixture)
    yield asgi_server


def picture(path: Path, color: str, label: str) -> Path:
    """A photo-sized PNG (wider than any thumbnail) with a few shapes, so that a screenshot shows it plainly."""
    image = Image.new("RGB", (900, 600), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 840, 540), outline="white", width=12)
    draw.ellipse((300, 150, 600, 450), fill="white")
    draw.text((80, 80), label, fill="white")
    image.save(path, format="PNG")
    return path


def shown_width(page: Any, selector: str) -> int:
    """The natural width of the loaded image (0 while it has not loaded or failed)."""
    page.wait_for_function(
        f"() => {{ const i = document.querySelector({selector!r}); return i && i.naturalWidth > 0; }}"
    )
    return int(page.eval_on_selector(selector, "i => i.naturalWidth"))


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_consumer_and_agent_send_images_and_see_each_other_typing(
    browser: Any, server: str, screenshot_dir: Path, tmp_path: Path, lang: str
) -> None:
    made = make_world()
    locale = LOCALES[lang]
    with translation.override(lang):
        typing_text = str(CONSOLE_STRINGS["typing"])
    shopper = browser.new_context(locale=locale, viewport=DESKTOP).new_page()
    shopper.goto(f"{server}/chat/?token={made['token']}")
    shopper.wait_for_selector(".msg.from-bot")
    shopper.click("#human")
    shopper.wait_for_selector("#banner:not([hidden])")

    desk = browser.new_context(locale=locale, viewport=DESKTOP).new_page()
    desk.goto(f"{server}/admin/login/?next=/admin/chat/chatsession/console/")
    desk.fill("#id_username", "agent")
    desk.fill("#id_password", PASSWORD["agent"])
    desk.press("#id_password", "Enter")
    desk.wait_for_selector(".queue li.waiting")
    desk.locator(".queue li.waiting button.accept").first.click()
    card = desk.locator(".chat-card").first
    card.wait_for()
    shopper.wait_for_selector(".msg.from-system[data-code=joined]")

    # The consumer types: the console says so under the conversation; nothing is stored.
    shopper.type("#text", "耳机" if lang == "zh-hans" else "head", delay=30)
    desk.wait_for_selector(f".chat-card .typing:not([hidden]):has-text('{typing_text}')")
    desk.screenshot(path=str(screenshot_dir / f"chat-typing-console-{lang}-desktop.png"))

    # The consumer attaches a photo: a thumbnail on both sides, the full image behind it.
    shopper.set_input_files("#attach", str(picture(tmp_path / "photo.png", "#d9480f", "consumer")))
    assert shown_width(shopper, ".msg.from-consumer .bubble.image img") == 900
    assert shown_width(desk, ".chat-card .msg.from-consumer .bubble.image img") == 900
    desk.wait_for_selector(".chat-card .typing[hidden]", state="attached")  # their message cleared "typing…"
    for page, bubble in (
        (desk, ".chat-card .msg.from-consumer .bubble.image"),
        (shopper, ".msg.from-consumer .bubble.image"),
    ):
        # A thumbnail 240 px wide, and the bubble hugs it (its padding and border aside).
        assert page.eval_on_selector(bubble + " img", "i => i.clientWidth") == 240
        assert page.eval_on_selector(bubble, "b => b.offsetWidth") <= 240 + 12

    # The agent types and answers with an image of their own.
    card.locator("textarea").type("ok", delay=30)
    shopper.wait_for_selector("#typing:not([hidden])")
    assert shopper.inner_text("#typing") == typing_text
    shopper.screenshot(path=str(screenshot_dir / f"chat-typing-widget-{lang}-desktop.png"))
    card.locator("input.attach-input").set_input_files(str(picture(tmp_path / "answer.png", "#1864ab", "agent")))
    assert shown_width(shopper, ".msg.from-agent .bubble.image img") == 900
    assert shown_width(desk, ".chat-card .msg.from-agent .bubble.image img") == 900
    shopper.wait_for_selector("#typing[hidden]", state="attached")

    shopper.screenshot(path=str(screenshot_dir / f"chat-images-widget-{lang}-desktop.png"))
    desk.screenshot(path=str(screenshot_dir / f"chat-images-console-{lang}-desktop.png"))
    shopper.set_viewport_size(PHONE)
    shopper.screenshot(path=str(screenshot_dir / f"chat-images-widget-{lang}-phone.png"), full_page=True)
    desk.set_viewport_size(PHONE)
    desk.screenshot(path=str(screenshot_dir / f"chat-images-console-{lang}-phone.png"), full_page=True)

    chat = read_in_thread(lambda: ChatSession.objects.get(consumer=made["consumer"]))
    senders = read_in_thread(lambda: sorted(ChatAttachment.objects.filter(chat=chat).values_list("sender", flat=True)))
    assert senders == ["agent", "consumer"]

    # The ticket page shows both images in the conversation.
    desk.set_viewport_size(DESKTOP)
    desk.goto(f"{server}/admin/tickets/ticket/{chat.ticket_id}/change/")
    assert shown_width(desk, ".timeline .from-consumer .attachment img") == 900
    assert shown_width(desk, ".timeline .from-agent .attachment img") == 900
    desk.screenshot(path=str(screenshot_dir / f"chat-images-ticket-{lang}-desktop.png"), full_page=True)
    desk.set_viewport_size(PHONE)
    desk.screenshot(path=str(screenshot_dir / f"chat-images-ticket-{lang}-phone.png"), full_page=True)
