"""Dependencies point one way: storage <- bot domains <- handlers <- the app assembly (`bot.app`, `bot.cli`).

The graph is read from the source with `ast`, so an import placed inside a function counts as much as one at the
top of a module: hiding an import in a function cannot hide a cycle. A failure names each offending arrow as
`module:line -> module`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "storage")
ASSEMBLY = {"bot.app", "bot.cli"}  # the only modules that may import handlers
# What handlers must not import: they call services, which own the queries.
DATABASE_MODULES = ("sqlalchemy", "storage.models")


@dataclass(frozen=True)
class Arrow:
    source: str  # importing module
    line: int
    target: str  # imported name, resolved to a module of ours when it is one

    def __str__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported_names(module: str, path: Path) -> list[tuple[int, str]]:
    """Every name an import statement anywhere in the file (module level, functions, classes) brings in."""
    names = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return names


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of `name` that is one of our modules (`from bot.x import f` -> bot.x), else `name`."""
    candidate = name
    while candidate:
        if candidate in modules:
            return candidate
        candidate = candidate.rpartition(".")[0]
    return name


def arrows() -> list[Arrow]:
    modules = _modules()
    found = (
        Arrow(module, line, _resolve(name, modules))
        for module, path in modules.items()
        for line, name in _imported_names(module, path)
    )
    return list(dict.fromkeys(found))  # `from x import a, b` is one arrow


def unit(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: bot.compliance.gate -> bot.compliance."""
    return ".".join(module.split(".")[:2])


def layer(module: str) -> int:
    if module.startswith("storage"):
        return 0
    if unit(module) in ASSEMBLY:
        return 3
    if module.startswith("handlers"):
        return 2
    return 1


def _itself(module: str) -> str:
    return module


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def forbidden(all_arrows: list[Arrow]) -> list[Arrow]:
    """Arrows that point up a layer: storage -> bot/handlers, bot -> handlers, anything -> the assembly."""
    return [a for a in all_arrows if _ours(a.target) and layer(a.target) > layer(a.source)]


def cycles(all_arrows: list[Arrow], group_of: Callable[[str], str] = unit) -> list[list[str]]:
    """Strongly connected sets of more than one group (subpackages by default; Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a in all_arrows:
        if _ours(a.target) and group_of(a.source) != group_of(a.target):
            graph[group_of(a.source)].add(group_of(a.target))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def _describe_cycle(group: list[str], all_arrows: list[Arrow], group_of: Callable[[str], str] = unit) -> str:
    """Name a strongly connected set by its two-way pairs (or, when it has none, its shortest cycle), each step
    with the imports that make it."""
    members = set(group)
    steps: dict[tuple[str, str], list[Arrow]] = defaultdict(list)
    for a in all_arrows:
        source, target = group_of(a.source), group_of(a.target)
        if source != target and source in members and target in members:
            steps[source, target].append(a)
    paths = [[a, b, a] for a, b in sorted(steps) if a < b and (b, a) in steps]
    lines = []
    for path in paths or [_shortest_cycle(group, set(steps))]:
        lines.append(" -> ".join(path))
        for source, target in zip(path, path[1:], strict=False):
            lines += [f"    {a}" for a in steps[source, target]]
    return "\n".join(lines)


def _shortest_cycle(group: list[str], edges: set[tuple[str, str]]) -> list[str]:
    """The shortest closed walk through the set (breadth first from each member), as [a, b, ..., a]."""
    best: list[str] = []
    for start in group:
        parents: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in parents:
            following = []
            for node in frontier:
                for source, target in sorted(edges):
                    if source == node and target not in parents:
                        parents[target] = node
                        following.append(target)
            frontier = following
        if start in parents:
            path = [start]
            while len(path) == 1 or path[-1] != start:
                path.append(parents[path[-1]])
            path.reverse()
            if not best or len(path) < len(best):
                best = path
    return best


def test_the_graph_is_read():
    """A guard for the checks below: the parser sees the imports it must see, in functions too."""
    found = {(a.source, a.target) for a in arrows()}
    assert ("bot.app", "handlers.slack") in found
    assert any(source == "storage.db" and target.startswith("sqlalchemy") for source, target in found)
    assert any(a.source == "bot.cli" and a.target == "bot.app" for a in arrows())  # imported inside main()


def test_no_arrow_points_up_a_layer():
    bad = forbidden(arrows())
    assert not bad, "imports against the layering (storage <- bot <- handlers <- bot.app, bot.cli):\n" + "\n".join(
        map(str, bad)
    )


def test_no_cycle_between_subpackages():
    all_arrows = arrows()
    found = cycles(all_arrows)
    assert not found, "cycles between subpackages:\n" + "\n".join(_describe_cycle(g, all_arrows) for g in found)


def test_no_cycle_between_modules():
    """Inside a subpackage too: two modules that need each other are one module, or share a third."""
    all_arrows = arrows()
    found = cycles(all_arrows, _itself)
    assert not found, "cycles between modules:\n" + "\n".join(_describe_cycle(g, all_arrows, _itself) for g in found)


def test_handlers_leave_the_database_to_services():
    bad = [
        a
        for a in arrows()
        if a.source.startswith("handlers")
        and any(a.target == m or a.target.startswith(m + ".") for m in DATABASE_MODULES)
    ]
    assert not bad, "handlers importing the database (move the query into a domain service):\n" + "\n".join(
        map(str, bad)
    )


def test_the_checks_catch_what_they_are_for():
    """Planted arrows: a cycle through a function-level import, and each kind of forbidden arrow."""
    planted = [
        Arrow("bot.compliance.gate", 1, "bot.messaging.sender"),
        Arrow("bot.messaging.sender", 2, "bot.compliance.gate"),
        Arrow("storage.db", 3, "bot.settings"),
        Arrow("bot.campaigns", 4, "handlers.links"),
        Arrow("handlers.api", 5, "bot.app"),
        Arrow("bot.app", 6, "handlers.api"),
    ]
    assert cycles(planted[:2]) == [["bot.compliance", "bot.messaging"]]
    assert cycles(planted[:2], _itself) == [["bot.compliance.gate", "bot.messaging.sender"]]
    assert [str(a) for a in forbidden(planted)] == [
        "storage.db:3 -> bot.settings",
        "bot.campaigns:4 -> handlers.links",
        "handlers.api:5 -> bot.app",
    ]


def test_a_longer_cycle_is_named_step_by_step():
    planted = [Arrow("bot.a", 1, "bot.b"), Arrow("bot.b", 2, "bot.c"), Arrow("bot.c", 3, "bot.a")]
    [group] = cycles(planted)
    assert _describe_cycle(group, planted).splitlines() == [
        "bot.a -> bot.b -> bot.c -> bot.a",
        "    bot.a:1 -> bot.b",
        "    bot.b:2 -> bot.c",
        "    bot.c:3 -> bot.a",
    ]
