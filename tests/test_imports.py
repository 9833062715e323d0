"""The import graph points one way: the registry base sits below the stages, and no module is in a circle."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "xlmk"
STAGES = ("xlmk.pretrain", "xlmk.probe", "xlmk.downstream", "xlmk.knowledge", "xlmk.sample_world")


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imported(name: str, path: Path, modules: dict[str, Path], *, module_level: bool) -> set[str]:
    """The xlmk modules `name` imports (at module level only, or anywhere including function bodies)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named: set[str] = set()
    for node in (tree.body if module_level else ast.walk(tree)):
        if isinstance(node, ast.Import):
            named.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            named.add(base)
            named.update(f"{base}.{a.name}" for a in node.names)
    found = set()
    for target in named:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if not target or target == name:
            continue
        if module_level:  # importing a.b.c runs a and a.b first
            parts = target.split(".")
            found.update(p for i in range(1, len(parts) + 1) if (p := ".".join(parts[:i])) in modules and p != name)
        else:
            found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in sorted(graph):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module_level", [True, False], ids=["module-level", "with-function-imports"])
def test_package_import_graph_has_no_cycle(module_level):
    modules = _modules()
    graph = {n: _imported(n, p, modules, module_level=module_level) for n, p in modules.items()}
    assert "xlmk.components" in graph and graph["xlmk.registry"] >= {"xlmk.components", "xlmk.probe.specs"}
    if not module_level:  # a function-level import of the root package would tie everything to the API
        graph = {n: {t for t in targets if t != "xlmk"} for n, targets in graph.items()}
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_registry_base_imports_no_stage():
    code = ("import sys, xlmk.components, xlmk.config, xlmk.results, xlmk.tables; "
            f"print(sorted(m for m in sys.modules if m.startswith({STAGES!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_api_functions_are_plain_functions():
    import types

    import xlmk
    from xlmk import api

    for name in ("load_recipe", "pretrain", "probe", "finetune", "results"):
        assert isinstance(getattr(api, name), types.FunctionType), name
    import xlmk.pretrain
    import xlmk.results

    assert type(xlmk.pretrain) is types.ModuleType and type(xlmk.results) is types.ModuleType
    assert xlmk.api is api and xlmk.finetune is api.finetune
