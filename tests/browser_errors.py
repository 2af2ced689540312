"""What a browser test counts as a failed request."""

from __future__ import annotations

NAVIGATION_CANCEL = "net::ERR_ABORTED"


def failed_request(request) -> str | None:
    """The failure a person would notice, or None when the browser itself dropped the
    request because the page moved on (a favicon still loading when a form is sent):
    that is not an answer the server failed to give."""
    if request.failure == NAVIGATION_CANCEL:
        return None
    return f"failed: {request.url} ({request.failure})"


def record_failures(tab, errors: list[str]) -> None:
    """Append every failed request of the tab to errors."""

    def on_failure(request) -> None:
        failure = failed_request(request)
        if failure is not None:
            errors.append(failure)

    tab.on("requestfailed", on_failure)
