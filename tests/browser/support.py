"""What browser tests share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def in_thread(build: Callable[[], Any]) -> Any:
    """Run database set-up away from Playwright's event loop (realtime events use async_to_sync there).

    Returns what ``build`` returns; re-raises what it raises.
    """
    made: dict[str, Any] = {}

    def run() -> None:
        try:
            made["value"] = build()
        except BaseException as error:  # handed to the test's thread below
            made["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in made:
        raise made["error"]
    return made.get("value")
