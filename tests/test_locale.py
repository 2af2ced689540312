"""Every English string the pages or services show has a Korean translation."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_STRING = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
ERROR_CLASSES = {
    "Invalid",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "Gone",
    "TokenExpired",
    "TooManyRequests",
    "BadGateway",
    "ServiceError",
    "HTTPError",
}


def korean() -> dict[str, str]:
    with open(ROOT / "locale" / "ko_KR.csv", encoding="utf-8") as source:
        return {row[0]: row[1] for row in csv.reader(source) if row}


def template_strings() -> set[str]:
    found = set()
    for path in (ROOT / "templates").glob("*.html"):
        for double, single in TEMPLATE_STRING.findall(path.read_text()):
            found.add(double or single)
    return found


def python_strings() -> set[str]:
    """Messages of service errors and page texts handed to the templates."""
    found = set()
    for folder in ("sns", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    args = list(node.args)
                    if name in ERROR_CLASSES or name == "translate":
                        args = args[:1] if name != "HTTPError" else []
                        args += [k.value for k in node.keywords if k.arg == "reason"]
                    else:
                        args = [
                            k.value
                            for k in node.keywords
                            if k.arg in ("empty", "title") and name == "render_timeline"
                        ]
                    for arg in args:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            found.add(arg.value)
    return found


def test_every_template_string_has_a_korean_translation():
    found = template_strings()
    # The scan must see strings we know are there, or "nothing missing" means nothing read.
    assert {"Log in", "Hello, %(nick)s", "What's happening?"} <= found
    missing = sorted(found - set(korean()))
    assert missing == []


def test_every_message_has_a_korean_translation():
    found = python_strings()
    assert {
        "That does not look like an email address.",  # sns: a service error
        "A post is at most {max} characters; this one has {count}.",  # sns: a keyword
        "No posts with this hashtag yet.",  # handlers: render_timeline(empty=...)
    } <= found
    missing = sorted(found - set(korean()))
    assert missing == []


def test_translations_keep_their_placeholders():
    checked = []
    for english, translated in korean().items():
        for placeholder in re.findall(r"%\(\w+\)[sd]|\{\w+\}", english):
            assert placeholder in translated, (english, translated)
            checked.append(placeholder)
    assert {"%(nick)s", "{max}", "{count}"} <= set(checked)
