"""Local servers that speak the recognisers' documented protocols, for testing our backends against them.

No Chinese model can be downloaded on these machines, so instead of FunASR or an OpenAI-compatible
server these stand-ins answer exactly as the protocols document: they check every field the client
must send and answer in the documented shapes. What they "recognise" is derived from the audio they
received (its length and loudness), so a test can tell that the right audio arrived.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.sync.server import ServerConnection, serve


@dataclass
class Behaviour:
    """What the stand-in does with each connection, in order; the last entry repeats."""

    script: list[str] = field(default_factory=lambda: ["answer"])
    received: list[dict[str, Any]] = field(default_factory=list)  # what each connection sent
    errors: list[str] = field(default_factory=list)  # what a client sent against the protocol

    def next(self) -> str:
        index = min(len(self.received) - 1, len(self.script) - 1)
        return self.script[index]


def _said(pcm: bytes) -> str:
    """A stand-in transcript: loud audio "says" 请问全额退款吗, quiet audio 您好很高兴为您服务."""
    loud = any(abs(int.from_bytes(pcm[i : i + 2], "little", signed=True)) > 3000 for i in range(0, len(pcm), 400))
    return "请问全额退款吗" if loud else "您好很高兴为您服务"


# --- FunASR runtime, WebSocket, offline mode -------------------------------------------------------


def _funasr_session(socket: ServerConnection, behaviour: Behaviour) -> None:
    start = json.loads(socket.recv(timeout=5))
    record: dict[str, Any] = {"start": start, "audio": b""}
    behaviour.received.append(record)
    action = behaviour.next()
    # The documented first frame of offline file transcription.
    assert start["mode"] == "offline" and start["is_speaking"] is True, start
    assert start["wav_format"] == "pcm" and start["audio_fs"] == 16000 and start["wav_name"], start
    while True:
        frame = socket.recv(timeout=5)
        if isinstance(frame, bytes):
            record["audio"] += frame
            if action == "die":  # the server goes away mid-file
                socket.socket.close()
                return
            continue
        assert json.loads(frame) == {"is_speaking": False}, frame
        break
    if action == "silent":
        time.sleep(3)
        return
    if action == "garbage":
        socket.send("<html>502 Bad Gateway</html>")
        return
    pcm = record["audio"]
    seconds_ms = len(pcm) // 32
    text = _said(pcm)
    half = len(text) // 2
    sentences = [
        {"text_seg": " ".join(text[:half]), "punc": "，", "start": 0, "end": seconds_ms // 2, "ts_list": []},
        {"text_seg": " ".join(text[half:]), "punc": "。", "start": seconds_ms // 2, "end": seconds_ms, "ts_list": []},
    ]
    answer = {
        "mode": "offline",
        "wav_name": start["wav_name"],
        "text": text[:half] + "，" + text[half:] + "。",
        "is_final": False,  # the C++ server's offline answer says False; the one answer is the result
        "timestamp": json.dumps([[0, seconds_ms // 2], [seconds_ms // 2, seconds_ms]]),
        "stamp_sents": sentences,
    }
    socket.send(json.dumps(answer, ensure_ascii=False))


@contextmanager
def funasr_server(behaviour: Behaviour) -> Iterator[str]:
    """A FunASR-protocol server on a loopback port; yields its ws:// URL."""

    def handler(socket: ServerConnection) -> None:
        try:
            _funasr_session(socket, behaviour)
        except AssertionError as error:
            behaviour.errors.append(str(error))
        except Exception:  # the client went away: what the test looks at is its effect
            pass

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}"
        finally:
            server.shutdown()
            thread.join(5)


# --- OpenAI-compatible /v1/audio/transcriptions -----------------------------------------------------


def _form(headers: Any, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str), name
        fields[name] = part.get_content() if part.get_filename() is None else part.get_payload(decode=True)
    return fields


@contextmanager
def openai_server(behaviour: Behaviour, *, key: str = "") -> Iterator[str]:
    """An OpenAI-compatible transcription server on a loopback port; yields its /v1 base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                form = _form(self.headers, body)
                assert form["file"][:4] == b"RIFF" and form["response_format"] == "verbose_json", form
                assert form["model"] and form["language"] and form["timestamp_granularities[]"] == "segment", form
            except (AssertionError, KeyError) as error:
                behaviour.errors.append(repr(error))
                return self._answer(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
            behaviour.received.append({"path": self.path, "form": form, "auth": self.headers.get("Authorization")})
            action = behaviour.next()
            if self.path != "/v1/audio/transcriptions":
                return self._answer(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            if key and self.headers.get("Authorization") != f"Bearer {key}":
                return self._answer(401, {"error": {"message": "Incorrect API key provided", "type": "auth"}})
            if action == "overloaded":
                return self._answer(503, {"error": {"message": "model is loading", "type": "server_error"}})
            if action == "refuse":
                return self._answer(400, {"error": {"message": "Unsupported language: xx", "type": "invalid"}})
            if action == "slow":
                time.sleep(3)
            pcm = form["file"][44:]
            seconds = len(pcm) / 32000
            text = _said(pcm)
            self._answer(
                200,
                {
                    "task": "transcribe",
                    "language": form["language"],
                    "duration": seconds,
                    "text": text,
                    "segments": [{"id": 0, "start": 0.0, "end": round(seconds, 2), "text": " " + text}],
                },
            )

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a timeout test)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
