"""What ``resize`` refuses, as one error that crosses a process pool intact."""

from __future__ import annotations

NOT_OURS = "This is not a JPEG, PNG, GIF, WebP, HEIC or AVIF picture."
DAMAGED = "The picture is damaged or cut short."


class ImageError(ValueError):
    """The bytes are not a picture we take; ``reason`` is a stable code for messages and
    ``values`` the numbers a message may show (frames, width, height, pixels)."""

    def __init__(self, reason: str, message: str, values: dict[str, int] | None = None) -> None:
        # All in ``args``, so that the error crosses a process pool intact.
        super().__init__(reason, message, values or {})
        self.reason = reason
        self.message = message
        self.values = values or {}

    def __str__(self) -> str:
        return self.message
