"""A refusal keeps a browser's connection open, even on the routes that stream their body
(uploads, the post form): it is answered once the body is read. A body too large to read
first is refused at once, and that answer says ``Connection: close``."""

from __future__ import annotations

import ast
import http.client
import importlib
from pathlib import Path

from urllib3 import encode_multipart_formdata

from handlers.streaming import StreamedBodyHandler

ROOT = Path(__file__).resolve().parent.parent
JSON = {"Accept": "application/json"}


def picture_form() -> tuple[bytes, dict[str, str]]:
    body, kind = encode_multipart_formdata({"img": ("a.png", b"not really a png", "image/png")})
    return body, {**JSON, "Content-Type": kind}


def test_refusals_before_a_streamed_body_leave_the_connection_open(server):
    body, headers = picture_form()

    anonymous = server.client()
    connection = anonymous.kept_alive()
    refused, _ = connection.request("POST", "/post/img", body, headers)  # no token
    assert refused.status == 403 and refused.getheader("Connection") != "close"
    no_token, _ = connection.request("POST", "/v2/posts/img", body, headers)
    assert no_token.status == 401 and no_token.getheader("Connection") != "close"
    page, _ = connection.request("GET", "/")
    assert page.status == 200
    connection.close()

    member = server.client()
    member.join()
    connection = member.kept_alive()
    bad_token, _ = connection.request(
        "POST", "/post/img", body, {**headers, "X-XSRFToken": "not-the-token"}
    )
    assert bad_token.status == 403
    avatar, _ = connection.request(
        "POST", "/account/avatar", body, {**headers, "X-XSRFToken": "not-the-token"}
    )
    assert avatar.status == 403
    page, html = connection.request("GET", "/")
    assert page.status == 200 and b'class="profile-box"' in html  # still logged in
    connection.close()


def test_a_refusal_that_cannot_wait_for_a_large_body_says_connection_close(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/post/img")
    connection.putheader("Content-Type", "multipart/form-data; boundary=b")
    connection.putheader("Content-Length", str(2**20))  # over SNS_MAX_BODY_BYTES; not sent
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 403
    assert answer.getheader("Connection") == "close"
    connection.close()


def streamed_handlers() -> list[tuple[str, str]]:
    """(module, class) of every handler class decorated with ``@stream_request_body``."""
    found = []
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(decorator).endswith("stream_request_body")
                for decorator in node.decorator_list
            ):
                found.append((module, node.name))
    return found


def test_every_handler_that_streams_its_body_answers_after_it():
    found = streamed_handlers()
    assert len(found) >= 4  # the two picture uploads, the avatar, the post form
    for module, name in found:
        handler = getattr(importlib.import_module(module), name)
        assert issubclass(handler, StreamedBodyHandler), f"{module}.{name}"
