"""The JSON body of a successful answer, made in one place (errors: ``write_error``)."""

from __future__ import annotations

from typing import Any


def success_body(code: int = 200, message: str = "ok", **fields: Any) -> dict[str, Any]:
    """NodeBird's ``{code, message}`` and what the answer carries: a ``payload`` mostly; a
    ``token``, a ``nextCursor`` or an upload's URLs where its clients expect them."""
    return {"code": code, "message": message, **fields}
