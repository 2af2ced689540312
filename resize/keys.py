"""The store's layout, shared with the app: ``original/<name>`` and ``thumb/<size>/<name>``
for post pictures, ``avatar/original/<name>`` and ``avatar/<size>/<name>`` for faces.

``<name>`` is ``<time>_<random>.<ext>``, made by the app; the thumbnail of every size keeps the
original's name, so that one name finds them all. Configuration from the environment uses the
app's variable names, with the same rules.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

ORIGINAL_PREFIX = "original/"
THUMB_PREFIX = "thumb/"
DEFAULT_SIZES = (200, 1080)
MIN_SIZE, MAX_SIZE = 16, 8192
THUMB_CACHE_CONTROL = "public, max-age=31536000, immutable"
"""Thumbnails never change under their key (a new upload gets a new name)."""


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable or option."""


def name_of(key: str) -> str | None:
    """The name of an original's key (``original/<name>`` -> ``<name>``), or None for any
    other key, a "folder", or a hidden file (temporary files are written hidden)."""
    if not key.startswith(ORIGINAL_PREFIX):
        return None
    name = key[len(ORIGINAL_PREFIX) :]
    if not name or name.endswith("/") or name.rsplit("/", 1)[-1].startswith("."):
        return None
    return name


NAME = re.compile(r"[0-9]{14}_[A-Za-z0-9_-]{16}\.(?:jpg|png|gif|webp)")
"""A picture's name as the app makes it: ``<UTC time>_<16 url-safe characters>.<ext>``."""
KEY = re.compile(r"(?:original|thumb/[0-9]{1,4}|avatar/original|avatar/[0-9]{1,4})/" + NAME.pattern)
"""Every key the app itself writes; anything else in a store is not ours."""


def original_key(name: str) -> str:
    return f"{ORIGINAL_PREFIX}{name}"


def thumb_key(size: int, name: str) -> str:
    return f"{THUMB_PREFIX}{size}/{name}"


AVATAR_PREFIX = "avatar/"
AVATAR_ORIGINAL_PREFIX = "avatar/original/"
AVATAR_SIZES = (96, 320)
"""Avatar squares: 96 px for posts and comments, 320 px for the profile (2x screens of 48
and 160 CSS px). Fixed, not a setting: the app, the Lambda and the batch tool must agree."""
AVATAR_ORIGINAL_SIDE = 1024
"""An avatar's original is its centred square, scaled down to at most this many pixels."""


def avatar_original_key(name: str) -> str:
    return f"{AVATAR_ORIGINAL_PREFIX}{name}"


def avatar_key(size: int, name: str) -> str:
    return f"{AVATAR_PREFIX}{size}/{name}"


def avatar_name_of(key: str) -> str | None:
    """The name of an avatar original's key (``avatar/original/<name>``), or None for any
    other key (the sizes under ``avatar/<size>/`` above all: the Lambda must not loop)."""
    if not key.startswith(AVATAR_ORIGINAL_PREFIX):
        return None
    name = key[len(AVATAR_ORIGINAL_PREFIX) :]
    if not name or "/" in name or name.startswith("."):
        return None
    return name


def name_of_key(key: str) -> str | None:
    """The picture name of one of the app's keys (original, thumbnail, avatar), or None for a
    key that is not ours. Stricter than ``name_of``, which takes any original's key."""
    if not KEY.fullmatch(key):
        return None
    return key.rsplit("/", 1)[1]


def parse_sizes(raw: str, what: str = "SNS_THUMB_SIZES") -> tuple[int, ...]:
    """``"200,1080"`` -> ``(200, 1080)``: whole numbers 16..8192, at least one, smallest first
    (the same rule as the app's setting)."""
    found: set[int] = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            size = int(part.strip())
        except ValueError:
            raise ConfigError(f"{what}: {part.strip()!r} is not a whole number") from None
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise ConfigError(f"{what}: sizes must be between 16 and 8192, not {size}")
        found.add(size)
    if not found:
        raise ConfigError(f"{what} must list at least one size, e.g. 200,1080")
    return tuple(sorted(found))


def parse_pixels(raw: str, what: str = "SNS_IMAGE_MAX_PIXELS") -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{what}: {raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{what} must be at least 1, not {value}")
    return value


def parse_flag(raw: str, what: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"{what}: {raw!r} is not true or false")


def env_sizes(environ: Mapping[str, str] = os.environ) -> tuple[int, ...]:
    raw = environ.get("SNS_THUMB_SIZES", "")
    return parse_sizes(raw) if raw.strip() else DEFAULT_SIZES


def env_max_pixels(environ: Mapping[str, str] = os.environ, default: int = 50_000_000) -> int:
    raw = environ.get("SNS_IMAGE_MAX_PIXELS", "")
    return parse_pixels(raw) if raw.strip() else default


def write_atomically(path: Path, data: bytes) -> None:
    """A file in a local store: written to a temporary dot-name beside it, then renamed, so
    that a reader (or a crash) never sees half a picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
