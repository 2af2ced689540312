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


CIRCLE_PACKAGES = ("sns", "handlers", "serving")
"""Within the core, the web layer and serving, module-level imports form no circle (#18)."""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(tree: ast.Module) -> set[str]:
    """Modules imported when the module runs: top level, inside ``try`` and ``if``, but
    not under ``if TYPE_CHECKING`` nor inside functions and classes."""
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If):
            pending.extend(node.orelse if is_type_checking(node) else [*node.body, *node.orelse])
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                pending.extend(handler.body)
    return found


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports at module level."""
    paths = {
        module_name(path, root): path
        for package in packages
        for path in (root / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        imported = module_level_imports(ast.parse(path.read_text(), filename=str(path)))
        graph[name] = {module for module in imported if module in paths and module != name}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each circle once, as the modules along it (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component: list[str] = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circle_within_sns_handlers_and_serving():
    assert import_circles(import_graph(ROOT, CIRCLE_PACKAGES)) == []


def test_the_circle_check_finds_a_circle_and_ignores_type_checking_imports(tmp_path: Path):
    package = tmp_path / "sns"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from sns.b import thing\n")
    (package / "b.py").write_text("from sns import c\nthing = 1\n")
    (package / "c.py").write_text("try:\n    import sns.a\nexcept ImportError:\n    pass\n")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sns.e import x\n"
    )
    (package / "e.py").write_text("from sns.d import y\n\ndef f():\n    import sns.a\n")
    assert import_circles(import_graph(tmp_path, ["sns"])) == [["sns.a", "sns.b", "sns.c"]]


KIT = ("testkit", "tests")
"""The test kit starts servers and fakes providers; the shipped program must never need it."""


def app_modules() -> list[Path]:
    packages = ("sns", "handlers", "serving", "resize")
    return sorted([*(p for name in packages for p in (ROOT / name).rglob("*.py")), ROOT / "run.py"])


def imports_of_the_kit(modules: set[str]) -> list[str]:
    return banned_among(modules, KIT)


@pytest.mark.parametrize("path", app_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_app_never_imports_the_test_kit(path: Path):
    assert imports_of_the_kit(imported_modules(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import testkit",
        "from testkit.sns import SnsServer",
        "from testkit import mariadb",
        "def f():\n    import testkit.redis\n",
        "from tests.conftest import backend_env",
    ],
)
def test_the_kit_check_catches_every_way_of_importing_it(tmp_path: Path, source: str):
    module = tmp_path / "module.py"
    module.write_text(source + "\n")
    assert imports_of_the_kit(imported_modules(module)) != []


def test_the_kit_check_allows_names_that_only_look_alike(tmp_path: Path):
    module = tmp_path / "module.py"
    module.write_text("import testkitchen\nfrom sns import tests_helpers\n")
    assert imports_of_the_kit(imported_modules(module)) == []
