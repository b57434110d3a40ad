from __future__ import annotations

import importlib

import pytest
from django.urls import Resolver404
from django.urls.resolvers import RegexPattern, URLResolver
from pytest_django import Settings


def test_media_files_are_not_served_as_plain_files_even_in_debug(settings: Settings) -> None:
    """Recordings and radio audio go through views that check who may hear them, never /media/."""
    import config.urls

    settings.DEBUG = True
    try:
        # resolve(path, urlconf=<module>) without its resolver cache, which the stubs only allow a name for.
        patterns = URLResolver(RegexPattern(r"^/"), importlib.reload(config.urls))
        with pytest.raises(Resolver404):
            patterns.resolve("/media/recordings/2026/11/call.wav")
        with pytest.raises(Resolver404):
            patterns.resolve("/media/radio/digest.wav")
    finally:
        settings.DEBUG = False
        importlib.reload(config.urls)
