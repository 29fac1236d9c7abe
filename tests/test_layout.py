"""tools/check_layout.py on small synthetic packages: each check must find what it is there to find."""
from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_layout.py"


@pytest.fixture(scope="module")
def layout():
    spec = importlib.util.spec_from_file_location("check_layout", TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def make(root: Path, files: dict[str, str], readme_lines: int = 10) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    (root / "README.md").write_text("line\n" * readme_lines)
    return root


CLEAN = {
    "pkg/__init__.py": "from pkg.a.one import public\n",
    **{f"pkg/{s}/__init__.py": "" for s in "abcde"},
    "pkg/a/one.py": "import numpy\n\ndef public():\n    return 1\n",
    "pkg/b/two.py": "from pkg.a.one import public\nfrom ..a import one\n\ndef f():\n    return one.public()\n",
}


def test_clean_package_passes(layout, tmp_path):
    rep = layout.check(make(tmp_path, CLEAN), "pkg")
    assert rep.ok, layout.render(rep)
    assert rep.cycles == [] and rep.private == [] and rep.long_modules == []
    assert rep.subpackages == ["a", "b", "c", "d", "e"]
    assert layout.main(["--root", str(tmp_path), "--package", "pkg"]) == 0


def test_cycle_through_a_function_level_import(layout, tmp_path):
    files = dict(CLEAN)
    files["pkg/a/one.py"] = "def public():\n    from pkg.b.two import f\n    return f\n"
    rep = layout.check(make(tmp_path, files), "pkg")
    assert rep.cycles == [["pkg.a.one", "pkg.b.two"]]
    assert any("in a function" in s for s in rep.cycle_edges[0])
    assert not rep.ok
    assert layout.main(["--root", str(tmp_path), "--package", "pkg"]) == 1


def test_cycle_through_relative_and_submodule_imports(layout, tmp_path):
    # c.x -> (from . import y) c.y -> (from ..c.z import g) c.z -> (import pkg.c.x) c.x
    files = dict(CLEAN)
    files["pkg/c/x.py"] = "from . import y\n"
    files["pkg/c/y.py"] = "from ..c.z import g\n"
    files["pkg/c/z.py"] = "def g():\n    import pkg.c.x\n"
    rep = layout.check(make(tmp_path, files), "pkg")
    assert rep.cycles == [["pkg.c.x", "pkg.c.y", "pkg.c.z"]]


def test_package_init_is_a_module(layout, tmp_path):
    files = dict(CLEAN)
    files["pkg/d/__init__.py"] = "from .m import thing\n"
    files["pkg/d/m.py"] = "from pkg.d import other\nthing = 1\n"
    rep = layout.check(make(tmp_path, files), "pkg")
    assert rep.cycles == [["pkg.d", "pkg.d.m"]]


def test_type_checking_imports_do_not_count(layout, tmp_path):
    files = dict(CLEAN)
    files["pkg/a/one.py"] = textwrap.dedent("""\
        from typing import TYPE_CHECKING
        import typing
        if TYPE_CHECKING:
            from pkg.b.two import f
        if typing.TYPE_CHECKING:
            from pkg.b import two
        def public():
            return 1
        """)
    rep = layout.check(make(tmp_path, files), "pkg")
    assert rep.cycles == []


def test_private_names_across_modules(layout, tmp_path):
    files = dict(CLEAN)
    files["pkg/a/one.py"] = "def public():\n    return 1\n\ndef _helper():\n    return 2\n\n__all__ = ['public']\n"
    files["pkg/b/two.py"] = textwrap.dedent("""\
        from pkg.a.one import public, __all__
        from ..a.one import _helper as h
        import pkg.a.one as o
        from pkg.a import one

        def f():
            from pkg.a.one import _helper
            a = o._helper()
            return a + one._helper() + pkg_local._x

        pkg_local = None
        """)
    rep = layout.check(make(tmp_path, files), "pkg")
    assert len(rep.private) == 4, rep.private
    assert all("pkg.a.one._helper" in p for p in rep.private)
    assert sorted(p.split(":")[1].split()[0] for p in rep.private) == ["2", "7", "8", "9"]
    assert not rep.ok


def test_private_submodules(layout, tmp_path):
    files = dict(CLEAN)
    files["pkg/a/_impl.py"] = "x = 1\n"
    files["pkg/a/one.py"] = "from . import _impl\n\ndef public():\n    return _impl.x\n"
    files["pkg/a/__init__.py"] = "from pkg.a._impl import x\n"
    rep = layout.check(make(tmp_path, files), "pkg")
    assert rep.private == []  # its own package may use it
    files["pkg/b/two.py"] = "from pkg.a import _impl\nimport pkg.a._impl\n"
    rep = layout.check(make(tmp_path, files), "pkg")
    assert len(rep.private) == 2 and all("(module)" in p for p in rep.private)


def test_long_modules_subpackages_readme(layout, tmp_path):
    files = {k: v for k, v in CLEAN.items() if not k.startswith(("pkg/d/", "pkg/e/"))}
    files["pkg/a/long.py"] = "x = 1\n" * 501
    files["pkg/a/ok.py"] = "x = 1\n" * 500
    files["pkg/maps/assets/vendored.py"] = "x = 1\n" * 900  # excluded
    files["pkg/notpkg/mod.py"] = "x = 1\n"  # no __init__: not a subpackage
    rep = layout.check(make(tmp_path, files, readme_lines=301), "pkg")
    assert rep.long_modules == [("pkg/a/long.py", 501)]
    assert rep.subpackages == ["a", "b", "c"]
    assert rep.readme_lines == 301
    ok = {r[0]: r[3] for r in rep.rows()}
    assert not ok["subpackages"] and not ok["README.md lines"] and not ok["modules over 500 lines"]


def test_json_output(layout, tmp_path, capsys):
    make(tmp_path, CLEAN)
    assert layout.main(["--root", str(tmp_path), "--package", "pkg", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] is True and d["cycles"] == [] and len(d["targets"]) == 6


def test_the_repository_meets_every_target(layout):
    rep = layout.check(TOOL.parents[1], "sitesel")
    assert rep.modules > 20 and rep.parse_errors == []
    failed = [r for r in rep.rows() if not r[3]]
    assert rep.ok and not failed, layout.render(rep)


def test_the_tests_mirror_the_package(layout):
    # Each test folder is named for a subpackage; the root holds the cross-cutting tests.
    repo = TOOL.parents[1]
    subpackages = set(layout.subpackages(repo / "sitesel"))
    folders = {p.name for p in (repo / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert folders and folders <= subpackages, folders - subpackages


def test_the_design_note_names_every_module(layout):
    # DESIGN.md's table of stages is the map a newcomer reads first; a module missing from it is lost.
    repo = TOOL.parents[1]
    design = (repo / "DESIGN.md").read_text()
    missing = []
    for sub in layout.subpackages(repo / "sitesel"):
        if sub in {"cli", "demo"} or "/" in sub:
            continue  # named as folders in the note, one module a command or a demo layer kind
        for mod in sorted((repo / "sitesel" / sub).glob("*.py")):
            if mod.stem != "__init__" and f"`{mod.stem}`" not in design:
                missing.append(f"{sub}/{mod.name}")
    assert missing == []
