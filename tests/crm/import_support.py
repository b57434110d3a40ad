"""What the crm import tests share besides fixtures (tests/crm/conftest.py): the headers, writing a file,
running the command, a moment as the file writes it."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

from django.core.management import CommandError, call_command
from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")
REVIEW_HEADER = "order_no,item_stars,service_stars,logistics_stars,created_at,text"


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(path: Path, kind: str, *options: str) -> tuple[list[str], str | None]:
    """Run the command quietly; its stdout lines and the CommandError's message (None: it succeeded)."""
    out = StringIO()
    try:
        call_command("import_orders", str(path), "--kind", kind, *options, stdout=out, stderr=StringIO(), verbosity=0)
    except CommandError as error:
        return out.getvalue().splitlines(), str(error)
    return out.getvalue().splitlines(), None


def local(moment: datetime | None) -> str:
    assert moment is not None
    return timezone.localtime(moment).isoformat()
