"""The one way a stored time is written out, in the API, fetch answers and ``<time>`` tags."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC to the second with a ``Z``, e.g. ``2024-05-01T09:00:00Z`` (NodeBird's
    ``createdAt``). Stored times are naive UTC; an aware time is converted first."""
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return aware.isoformat(timespec="seconds").replace("+00:00", "Z")
