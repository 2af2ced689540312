"""Imports go one way: serving uses handlers and sns, handlers use sns; sns and resize never
import the web layer or serving, and handlers never import serving."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("tornado.web", "handlers", "serving")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, including ``from tornado import web`` as tornado.web."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def core_modules() -> list[Path]:
    return sorted([*(ROOT / "sns").rglob("*.py"), *(ROOT / "resize").rglob("*.py")])


def banned_among(modules: set[str], banned_names: Iterable[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        for banned in banned_names
        if name == banned or name.startswith(banned + ".")
    )


def breaks_the_layers(modules: set[str]) -> list[str]:
    return banned_among(modules, FORBIDDEN)


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_modules_do_not_import_the_web_layer(path: Path):
    assert breaks_the_layers(imported_modules(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import tornado.web",
        "from tornado import web",
        "from tornado.web import RequestHandler",
        "import handlers.app",
        "from handlers.base import PageHandler",
        "def f():\n    from handlers import app\n",
        "from serving.start import serve",
        "import serving",
    ],
)
def test_the_check_catches_every_way_of_importing_it(tmp_path: Path, source: str):
    module = tmp_path / "module.py"
    module.write_text(source + "\n")
    assert breaks_the_layers(imported_modules(module)) != []


def test_the_check_allows_what_the_core_may_use(tmp_path: Path):
    module = tmp_path / "module.py"
    module.write_text("import tornado.httpclient\nfrom tornado.httputil import url_concat\n")
    assert breaks_the_layers(imported_modules(module)) == []


RESIZE_FORBIDDEN = ("sns", "handlers", "tornado")
"""resize/ runs in AWS Lambda and in batch workers where the app is not installed."""


def resize_modules() -> list[Path]:
    return sorted((ROOT / "resize").rglob("*.py"))


def imports_of_the_app(modules: set[str]) -> list[str]:
    return banned_among(modules, RESIZE_FORBIDDEN)


@pytest.mark.parametrize("path", resize_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_resize_imports_nothing_of_the_app(path: Path):
    assert imports_of_the_app(imported_modules(path)) == []


@pytest.mark.parametrize(
    "source", ["import sns", "from sns.settings import Settings", "from sns import images"]
)
def test_the_resize_check_catches_an_import_of_sns(tmp_path: Path, source: str):
    module = tmp_path / "module.py"
    module.write_text(source + "\n")
    assert imports_of_the_app(imported_modules(module)) != []


WEB_LAYER_FORBIDDEN = ("serving", "tornado.httpserver", "tornado.tcpserver", "tornado.netutil")
"""handlers/ is what the app serves; how it is served (servers, sockets, workers) is serving/."""


def web_layer_modules() -> list[Path]:
    return sorted((ROOT / "handlers").rglob("*.py"))


def serving_in_the_web_layer(modules: set[str]) -> list[str]:
    return banned_among(modules, WEB_LAYER_FORBIDDEN)


@pytest.mark.parametrize("path", web_layer_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_handlers_hold_no_server_and_no_start_up(path: Path):
    assert serving_in_the_web_layer(imported_modules(path)) == []


@pytest.mark.parametrize(
    "source",
    ["from serving.http import BoundedHTTPServer", "import tornado.httpserver", "import serving"],
)
def test_the_web_layer_check_catches_serving_code(tmp_path: Path, source: str):
    module = tmp_path / "module.py"
    module.write_text(source + "\n")
    assert serving_in_the_web_layer(imported_modules(module)) != []
