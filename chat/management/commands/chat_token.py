from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.tokens import issue_token
from crm.models import Consumer


class Command(BaseCommand):
    help = "Print a chat token for a consumer (by external id) and the demo page's URL to chat as them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("consumer", help="the consumer's external id")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the server answers")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = Consumer.objects.filter(external_id=options["consumer"]).first()
        if consumer is None:
            raise CommandError(f"There is no consumer with external id {options['consumer']!r}.")
        token = issue_token(consumer.pk)
        base = options["base_url"].rstrip("/")
        self.stdout.write(f"consumer: {consumer.display_name} ({consumer.external_id})")
        self.stdout.write(f"token (valid {settings.CHAT_TOKEN_MAX_AGE} s): {token}")
        self.stdout.write(f"chat page: {base}/chat/?token={token}")
        self.stdout.write(f"socket: {base.replace('http', 'ws', 1)}/ws/chat/?token={token}")
