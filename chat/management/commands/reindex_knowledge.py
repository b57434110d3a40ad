from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chat.knowledge import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the bot's knowledge-base index (Whoosh) from the active knowledge articles."

    def handle(self, *args: Any, **options: Any) -> None:
        count = rebuild_index()
        self.stdout.write(f"Indexed {count} knowledge articles.")
