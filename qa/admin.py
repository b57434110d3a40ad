"""Admin registrations arrive with this app's models."""

from __future__ import annotations
