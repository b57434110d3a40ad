from __future__ import annotations

import importlib

import pytest
from django.urls import Resolver404, resolve


def test_media_files_are_not_served_as_plain_files_even_in_debug(settings: pytest.FixtureRequest) -> None:
    """Recordings and radio audio go through views that check who may hear them, never /media/."""
    import config.urls

    settings.DEBUG = True  # type: ignore[attr-defined]
    try:
        patterns = importlib.reload(config.urls)
        with pytest.raises(Resolver404):
            resolve("/media/recordings/2026/11/call.wav", urlconf=patterns)
        with pytest.raises(Resolver404):
            resolve("/media/radio/digest.wav", urlconf=patterns)
    finally:
        settings.DEBUG = False  # type: ignore[attr-defined]
        importlib.reload(config.urls)
