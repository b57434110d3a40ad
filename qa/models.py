"""Models arrive with this app's feature issue (see docs/ARCHITECTURE.md)."""

from __future__ import annotations
