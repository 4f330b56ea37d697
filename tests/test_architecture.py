"""The import rules that keep the architecture visible, read from the product's source.

- `bot/domain/` is plain Python: no Slack, no HTTP, no database driver, and nothing of
  `handlers`, `bot.storage` or `bot.runtime`;
- nothing under `bot/` imports `handlers`, except `bot/app.py` (the composition root);
- no import cycles between product modules, directly or around a circle.

Every import counts, wherever it is written: at the top, inside a function, or under
`if TYPE_CHECKING:`. Relative imports are resolved. `from X import name` is an arrow to
`X.name` when that is a module, else to `X`. A module importing one of its own ancestor
packages (`bot.domain.coach.rules` importing `bot.domain.coach`) is not a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Container
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers")  # not tests/, standin/, bench/ or scripts/

DOMAIN = "bot.domain"
NOT_IN_DOMAIN = ("slack_sdk", "slack_bolt", "aiohttp", "sqlite3", "sqlite_utils", "psycopg",
                 "psycopg2", "handlers", "bot.storage", "bot.runtime")
COMPOSITION_ROOT = "bot.app"


# -- the checker ----------------------------------------------------------------------------
def is_within(name: str, prefix: str) -> bool:
    """`name` is `prefix` or inside it, on dotted boundaries (`bot.runtime2` is not in
    `bot.runtime`)."""
    return name == prefix or name.startswith(prefix + ".")


def product_modules(root: Path, packages: tuple[str, ...] = PRODUCT) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py under the product packages."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def resolve_from(module: str, is_package: bool, target: str | None, level: int) -> str:
    """The absolute name `from <level dots><target> import ...` means inside `module`."""
    if level == 0:
        return target or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package")
    base = package[:len(package) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(module: str, path: Path, known: Container[str]) -> set[str]:
    """Everything `module` imports, anywhere in its file, as absolute dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):  # every node: function bodies and TYPE_CHECKING blocks too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve_from(module, is_package, node.module, node.level)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PRODUCT) -> dict[str, set[str]]:
    """Each product module -> everything it imports (product or not)."""
    modules = product_modules(root, packages)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def domain_violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(domain module, what it must not import)."""
    return {(module, target) for module, targets in graph.items() if is_within(module, DOMAIN)
            for target in targets if any(is_within(target, bad) for bad in NOT_IN_DOMAIN)}


def handlers_violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(module under bot/ other than the composition root, the handlers module it imports)."""
    return {(module, target) for module, targets in graph.items()
            if is_within(module, "bot") and module != COMPOSITION_ROOT
            for target in targets if is_within(target, "handlers")}


def module_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Arrows between product modules; an import of a module's own ancestor is left out."""
    edges = {}
    for module, targets in graph.items():
        edges[module] = set()
        for target in targets:
            # the product module the import lands in (`import a.b.C`: the longest known prefix)
            parts = target.split(".")
            landed = next((".".join(parts[:n]) for n in range(len(parts), 0, -1)
                           if ".".join(parts[:n]) in graph), None)
            if landed is None or landed == module or is_within(module, landed):
                continue
            edges[module].add(landed)
    return edges


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    edges = module_edges(graph)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def report(violations) -> str:
    return "\n".join(" -> ".join(v) for v in sorted(violations))


# -- the checker can fail: a tiny fake product --------------------------------------------
FAKE = {
    "bot/__init__.py": "",
    "bot/app.py": "from handlers import events\nimport bot.domain.fine\n",  # the allowed arrow
    "bot/domain/__init__.py": "",
    "bot/domain/models.py": "import dataclasses\n\nCase = dataclasses.make_dataclass('C', [])\n",
    "bot/domain/fine.py": "from datetime import datetime\nfrom bot.domain.models import Case\n"
                          "from . import models\n",
    "bot/domain/bad.py": "import sqlite3\n",
    "bot/domain/typed.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                           "    from ..storage import sqlite\n",
    "bot/domain/lazy.py": "def later():\n    from handlers import ids\n    return ids\n",
    "bot/domain/coach/__init__.py": "from bot.domain.coach.rules import check\n",
    "bot/domain/coach/rules.py": "import bot.domain.coach\nfrom bot.domain import coach\n"
                                 "from .. import coach as again\n\ndef check():\n    pass\n",
    "bot/storage/__init__.py": "",
    "bot/storage/sqlite.py": "import sqlite3\nimport sqlite_utils\nfrom bot.domain import models\n",
    "bot/runtime/__init__.py": "",
    "bot/runtime/logs.py": "import aiohttp\nfrom handlers import ids\n",
    "bot/runtime/a.py": "import bot.runtime.b\n",
    "bot/runtime/b.py": "from bot.runtime import c\n",
    "bot/runtime/c.py": "from . import a\n",
    "handlers/__init__.py": "",
    "handlers/ids.py": "import slack_bolt\n",
    "handlers/events.py": "from bot.domain.fine import models\nfrom handlers import ids\n",
    "handlers/context.py": "def lead():\n    from handlers import lead_commands\n",
    "handlers/lead_commands.py": "import handlers.context\n",
    "tests/test_fake.py": "import sqlite3\nfrom handlers import context\n",  # not product
    "standin/__init__.py": "import bot.domain.bad\n",  # not product
}


@pytest.fixture
def fake(tmp_path):
    for name, text in FAKE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return import_graph(tmp_path)


def test_checker_reads_only_the_product_and_resolves_every_kind_of_import(fake):
    assert not any(is_within(m, "tests") or is_within(m, "standin") for m in fake)
    edges = module_edges(fake)
    assert edges["bot.domain.fine"] == {"bot.domain.models"}  # a name, and `from . import`
    assert edges["bot.domain.typed"] == {"bot.storage.sqlite"}  # relative, TYPE_CHECKING
    assert edges["bot.domain.lazy"] == {"handlers.ids"}  # inside a function
    assert edges["bot.runtime.c"] == {"bot.runtime.a"}
    assert edges["handlers.events"] == {"bot.domain.fine", "handlers.ids"}
    assert edges["bot.domain.coach.rules"] == set()  # its own parent package: no arrow
    assert edges["bot.domain.coach"] == {"bot.domain.coach.rules"}


def test_checker_reports_exactly_the_domain_imports_it_should(fake):
    assert domain_violations(fake) == {
        ("bot.domain.bad", "sqlite3"),
        ("bot.domain.typed", "bot.storage.sqlite"),
        ("bot.domain.lazy", "handlers.ids"),
    }


def test_checker_reports_exactly_the_handlers_imports_from_bot_it_should(fake):
    assert handlers_violations(fake) == {
        ("bot.domain.lazy", "handlers.ids"),
        ("bot.runtime.logs", "handlers.ids"),
    }  # and not bot.app's


def test_checker_reports_exactly_the_cycles_it_should(fake):
    assert cycles(fake) == {
        ("handlers.context", "handlers.lead_commands"),
        ("bot.runtime.a", "bot.runtime.b", "bot.runtime.c"),
    }  # and not the coach package with its rules


def test_relative_imports_resolve_from_modules_and_packages():
    assert resolve_from("bot.domain.coach.rules", False, None, 1) == "bot.domain.coach"
    assert resolve_from("bot.domain.coach.rules", False, "models", 2) == "bot.domain.models"
    assert resolve_from("bot.domain.coach", True, "rules", 1) == "bot.domain.coach.rules"
    assert resolve_from("bot.domain", True, None, 2) == "bot"
    with pytest.raises(ValueError):
        resolve_from("bot.app", False, None, 3)


# -- the real tree --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def product():
    return import_graph(ROOT)


def test_the_checker_sees_the_product(product):
    assert {"bot.app", "bot.domain.lifecycle", "bot.storage.sqlite", "bot.runtime.clock",
            "handlers.context"} <= set(product)
    assert not any(m.split(".")[0] not in PRODUCT for m in product)
    assert any(is_within(t, "handlers") for t in module_edges(product)[COMPOSITION_ROOT])


def test_the_domain_is_plain_python(product):
    assert not domain_violations(product), "\n" + report(domain_violations(product))


def test_only_the_composition_root_in_bot_imports_handlers(product):
    assert not handlers_violations(product), "\n" + report(handlers_violations(product))


def test_there_are_no_import_cycles(product):
    assert not cycles(product), "\n" + report(cycles(product))
