#!/usr/bin/env python3
"""Check the package layout against issue 18's targets, from the source alone (stdlib ``ast``).

Targets
-------
cycles
    Import cycles among the package's modules: 0. Every ``import``/``from ... import`` counts,
    including those inside functions and methods; those under ``if TYPE_CHECKING:`` do not.
    Relative imports are resolved. ``from pkg.x import y`` is an import of ``pkg.x.y`` when ``y``
    is a submodule, else of ``pkg.x`` (a package's ``__init__`` is the module ``pkg.x``). The
    implicit import of a module's parent packages is not counted (it would make every package
    whose ``__init__`` re-exports its submodules a cycle). Each cycle is listed with the line of
    every import in it.
private imports
    Private names used across modules: 0. ``from pkg.a import _b`` (``_b``: one leading
    underscore, not a dunder), and ``m._b`` where ``m`` is a module bound by an import. A
    private *submodule* (``pkg/sub/_impl.py``) may be imported by its own package and its
    siblings only: that is what a private module is for.
long modules
    Modules over 500 lines (``sitesel/maps/assets`` excluded): 0.
subpackages
    Directories under the package with an ``__init__.py``: at least 5.
README
    ``README.md`` lines: at most 300.

Usage: ``python3 tools/check_layout.py [--root DIR] [--json]``. Prints a table and the findings;
exits 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

MAX_LINES = 500
MIN_SUBPACKAGES = 5
MAX_README_LINES = 300
EXCLUDE = ("maps/assets",)


@dataclass(frozen=True)
class Edge:
    """``src`` imports ``dst`` at ``line``; ``local`` when the import is inside a function."""

    src: str
    dst: str
    line: int
    local: bool


@dataclass(frozen=True)
class PrivateUse:
    src: str
    line: int
    module: str
    name: str
    kind: str  # "name", "attribute" or "module"

    def __str__(self) -> str:
        return f"{self.src}:{self.line} uses {self.module}.{self.name} ({self.kind})"


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module | None = None
    lines: int = 0
    error: str | None = None

    @property
    def package(self) -> str:
        """The package relative imports are resolved against."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass
class Report:
    modules: int = 0
    cycles: list[list[str]] = field(default_factory=list)
    cycle_edges: list[list[str]] = field(default_factory=list)
    private: list[str] = field(default_factory=list)
    long_modules: list[tuple[str, int]] = field(default_factory=list)
    subpackages: list[str] = field(default_factory=list)
    readme_lines: int | None = None
    parse_errors: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str, bool]]:
        """(target, value, limit, ok) per target."""
        readme = self.readme_lines
        return [
            ("import cycles (incl. function-level)", str(len(self.cycles)), "0", not self.cycles),
            ("private names imported across modules", str(len(self.private)), "0", not self.private),
            (f"modules over {MAX_LINES} lines", str(len(self.long_modules)), "0", not self.long_modules),
            ("subpackages", str(len(self.subpackages)), f">= {MIN_SUBPACKAGES}",
             len(self.subpackages) >= MIN_SUBPACKAGES),
            ("README.md lines", "missing" if readme is None else str(readme), f"<= {MAX_README_LINES}",
             readme is not None and readme <= MAX_README_LINES),
            ("modules that do not parse", str(len(self.parse_errors)), "0", not self.parse_errors),
        ]

    @property
    def ok(self) -> bool:
        return all(r[3] for r in self.rows())


# -- modules -------------------------------------------------------------------------------------
def excluded(rel: Path) -> bool:
    s = rel.as_posix()
    return any(s == e or s.startswith(e + "/") for e in EXCLUDE) or "__pycache__" in rel.parts


def collect_modules(pkg_dir: Path, package: str | None = None) -> dict[str, Module]:
    """Every ``.py`` file under ``pkg_dir`` (the package ``package``, default its directory name)."""
    pkg_dir = Path(pkg_dir)
    package = package or pkg_dir.name
    mods: dict[str, Module] = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        rel = path.relative_to(pkg_dir)
        if excluded(rel):
            continue
        parts = list(rel.with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        name = ".".join([package, *parts])
        text = path.read_text(encoding="utf-8", errors="replace")
        mod = Module(name, path, is_pkg, lines=len(text.splitlines()))
        try:
            mod.tree = ast.parse(text, filename=str(path))
        except SyntaxError as e:
            mod.error = f"{path}: {e}"
        mods[name] = mod
    return mods


def subpackages(pkg_dir: Path) -> list[str]:
    """Directories under ``pkg_dir`` (not itself) holding an ``__init__.py``."""
    pkg_dir = Path(pkg_dir)
    return sorted(p.parent.relative_to(pkg_dir).as_posix() for p in pkg_dir.rglob("__init__.py")
                  if p.parent != pkg_dir and not excluded(p.parent.relative_to(pkg_dir)))


# -- imports -------------------------------------------------------------------------------------
def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, local: bool = False):
    """Yield (node, local) for every node, skipping ``if TYPE_CHECKING:`` bodies (not their else)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for sub in child.orelse:
                yield sub, local
                yield from _walk(sub, local)
            continue
        inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield child, inner
        yield from _walk(child, inner)


def resolve_from(mod: Module, node: ast.ImportFrom) -> str | None:
    """The absolute module name of ``from <...> import``, or None if it climbs out of the tree."""
    if not node.level:
        return node.module
    base = mod.package.split(".") if mod.package else []
    up = node.level - 1
    if up > len(base):
        return None
    base = base[: len(base) - up]
    if node.module:
        base.append(node.module)
    return ".".join(base) or None


def _nearest_module(name: str, mods: dict[str, Module]) -> str | None:
    """``name`` or its longest prefix that is a module of the tree."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in mods:
            return cand
        parts.pop()
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def analyse_imports(mods: dict[str, Module], root_package: str) -> tuple[list[Edge], list[PrivateUse]]:
    """Import edges between modules of the tree, and private names used across modules."""
    edges: list[Edge] = []
    private: list[PrivateUse] = []

    def private_module_ok(src: Module, target: str) -> bool:
        # A private submodule pkg.a._m is for pkg.a and the modules inside pkg.a.
        parent = target.rpartition(".")[0]
        return src.name == parent or src.name.startswith(parent + ".")

    def check_module_path(src: Module, target: str, line: int) -> None:
        parts = target.split(".")
        for i in range(1, len(parts)):
            if _private(parts[i]) and ".".join(parts[: i + 1]) in mods:
                t = ".".join(parts[: i + 1])
                if not private_module_ok(src, t):
                    private.append(PrivateUse(src.name, line, ".".join(parts[:i]), parts[i], "module"))
                return

    for mod in mods.values():
        if mod.tree is None:
            continue
        aliases: dict[str, str] = {}  # local name bound to a module of the tree
        for node, local in _walk(mod.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name != root_package and not a.name.startswith(root_package + "."):
                        continue
                    target = _nearest_module(a.name, mods)
                    if target and target != mod.name:
                        edges.append(Edge(mod.name, target, node.lineno, local))
                    check_module_path(mod, a.name, node.lineno)
                    if a.asname:
                        if a.name in mods:
                            aliases[a.asname] = a.name
                    else:
                        aliases[a.name.split(".")[0]] = a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = resolve_from(mod, node)
                if not base or (base != root_package and not base.startswith(root_package + ".")):
                    continue
                check_module_path(mod, base, node.lineno)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in mods:
                        if sub != mod.name:
                            edges.append(Edge(mod.name, sub, node.lineno, local))
                        aliases[a.asname or a.name] = sub
                        if _private(a.name) and not private_module_ok(mod, sub):
                            private.append(PrivateUse(mod.name, node.lineno, base, a.name, "module"))
                        continue
                    target = _nearest_module(base, mods)
                    if target and target != mod.name:
                        edges.append(Edge(mod.name, target, node.lineno, local))
                    if a.name != "*" and _private(a.name) and base != mod.name:
                        private.append(PrivateUse(mod.name, node.lineno, base, a.name, "name"))
        # m._x where m is bound to a module of the tree (by any import in this module).
        for node, _ in _walk(mod.tree):
            if not isinstance(node, ast.Attribute) or not _private(node.attr):
                continue
            chain, cur = [], node.value
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if not isinstance(cur, ast.Name) or cur.id not in aliases:
                continue
            target = ".".join([aliases[cur.id], *reversed(chain)])
            if target in mods and target != mod.name and f"{target}.{node.attr}" not in mods:
                private.append(PrivateUse(mod.name, node.lineno, target, node.attr, "attribute"))
    # One edge per (src, dst): the first line, preferring a module-level import.
    best: dict[tuple[str, str], Edge] = {}
    for e in edges:
        k = (e.src, e.dst)
        if k not in best or (best[k].local, best[k].line) > (e.local, e.line):
            best[k] = e
    private = sorted(set(private), key=lambda p: (p.src, p.line, p.name))
    return sorted(best.values(), key=lambda e: (e.src, e.dst)), private


# -- cycles --------------------------------------------------------------------------------------
def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), those of 2+ nodes or a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in graph.get(v, ()):
                        out.append(sorted(comp))
    return sorted(out)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Distinct cycles: for every edge inside a strongly connected component, the shortest cycle
    through it. Each cycle is a list of modules starting at its smallest name; the first module is
    not repeated at the end."""
    found: set[tuple[str, ...]] = set()
    for comp in strongly_connected(graph):
        members = set(comp)
        for u in comp:
            for v in sorted(graph.get(u, set()) & members):
                path = _shortest_path(graph, v, u, members)
                if path is None:
                    continue
                cyc = [u, *path[:-1]] if u != v else [u]
                i = cyc.index(min(cyc))
                found.add(tuple(cyc[i:] + cyc[:i]))
    return sorted(list(c) for c in found)


def _shortest_path(graph: dict[str, set[str]], a: str, b: str, members: set[str]) -> list[str] | None:
    """Nodes from ``a`` to ``b`` (both included) within ``members``, breadth first."""
    prev: dict[str, str | None] = {a: None}
    q = deque([a])
    while q:
        x = q.popleft()
        if x == b:
            path = [x]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for y in sorted(graph.get(x, set()) & members):
            if y not in prev:
                prev[y] = x
                q.append(y)
    return None


# -- the whole check -----------------------------------------------------------------------------
def check(root: Path, package: str = "sitesel") -> Report:
    root = Path(root)
    pkg_dir = root / package
    mods = collect_modules(pkg_dir, package)
    edges, private = analyse_imports(mods, package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    by_pair = {}
    for e in edges:
        graph[e.src].add(e.dst)
        by_pair[(e.src, e.dst)] = e
    rep = Report(modules=len(mods))
    rep.cycles = find_cycles(graph)
    for cyc in rep.cycles:
        steps = []
        for i, a in enumerate(cyc):
            b = cyc[(i + 1) % len(cyc)]
            e = by_pair[(a, b)]
            steps.append(f"{a} -> {b} (line {e.line}{', in a function' if e.local else ''})")
        rep.cycle_edges.append(steps)
    rep.private = [str(p) for p in private]
    rep.long_modules = sorted(((m.path.relative_to(root).as_posix(), m.lines) for m in mods.values()
                               if m.lines > MAX_LINES), key=lambda t: -t[1])
    rep.subpackages = subpackages(pkg_dir)
    readme = root / "README.md"
    rep.readme_lines = len(readme.read_text(encoding="utf-8").splitlines()) if readme.exists() else None
    rep.parse_errors = [m.error for m in mods.values() if m.error]
    return rep


def render(rep: Report) -> str:
    rows = rep.rows()
    w0 = max(len(r[0]) for r in rows)
    w1 = max(max(len(r[1]) for r in rows), len("value"))
    w2 = max(max(len(r[2]) for r in rows), len("target"))
    lines = [f"{'check':<{w0}}  {'value':>{w1}}  {'target':<{w2}}  ok",
             f"{'-' * w0}  {'-' * w1}  {'-' * w2}  --"]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c:<{w2}}  {'yes' if ok else 'NO'}" for a, b, c, ok in rows]
    lines.append(f"({rep.modules} modules)")
    if rep.cycles:
        lines.append("\nimport cycles:")
        for cyc, steps in zip(rep.cycles, rep.cycle_edges):
            lines.append("  " + " -> ".join([*cyc, cyc[0]]))
            lines += [f"      {s}" for s in steps]
    if rep.private:
        lines.append("\nprivate names imported across modules:")
        lines += [f"  {p}" for p in rep.private]
    if rep.long_modules:
        lines.append(f"\nmodules over {MAX_LINES} lines:")
        lines += [f"  {p}: {n}" for p, n in rep.long_modules]
    lines.append("\nsubpackages: " + (", ".join(rep.subpackages) or "none"))
    if rep.parse_errors:
        lines.append("\nmodules that do not parse:")
        lines += [f"  {e}" for e in rep.parse_errors]
    lines.append("\n" + ("all targets met" if rep.ok else "targets missed"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                    help="the repository (default: this script's)")
    ap.add_argument("--package", default="sitesel")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    rep = check(args.root, args.package)
    if args.json:
        d = asdict(rep)
        d["targets"] = [{"check": a, "value": b, "target": c, "ok": ok} for a, b, c, ok in rep.rows()]
        d["ok"] = rep.ok
        print(json.dumps(d, indent=2))
    else:
        print(render(rep))
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
