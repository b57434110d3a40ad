from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from core import roles


@pytest.fixture
def business(make_user: Callable[..., User]) -> User:
    return make_user("biz1", roles.BUSINESS, first_name="物流陈经理")


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Recordings go to a temporary folder, here and in any Celery worker a test starts."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    return media
