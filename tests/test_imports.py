"""innverse's import structure: no cycles, dependencies pointing one way, and a light ``innverse.nn``.

The graph is read statically (``ast``) from every module of ``src/innverse``, with every import
statement counted wherever it is -- at module level, inside functions and methods, under ``if``/``try``
(``if TYPE_CHECKING:`` blocks are left out of the cycle check: they never run, but they still have to
respect the layers).  ``from package import name`` is an edge to ``package.name`` when that is a module,
else to ``package`` (its ``__init__``); the implicit import of a module's parent packages is not an
edge.  ``from innverse import __version__`` reads a constant the root package defines before it imports
anything, so it is an edge to that constant, not to the package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "innverse"

#: top-level parts of innverse, lowest layer first; a module may import its own layer and those below
LAYERS: list[set[str]] = [
    {"nn"},
    {"errors", "paths", "runtime", "metrics", "devices", "convention", "__version__"},
    {"physics", "diffusion", "wavelets", "data", "problems"},
    {"models"},
    {"solvers", "sampling", "apps", "hub", "attacks"},
    {"train", "bench", "benchmark"},
    {"api"},
    {"commands", "cli", "__main__", ROOT},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported innverse module, line, runtime?) for every import statement of module ``name``."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, runtime)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                    found.append((alias.name, node.lineno, runtime))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == ROOT or target.startswith(ROOT + "."):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        found.append((sub, node.lineno, runtime))
                    elif target == ROOT and alias.name == "__version__":
                        found.append((f"{ROOT}.__version__", node.lineno, runtime))
                    else:
                        found.append((target, node.lineno, runtime))
        for child in ast.iter_child_nodes(node):
            visit(child, runtime)

    visit(tree, True)
    return found


def _graph() -> tuple[dict[str, Path], dict[str, list[tuple[str, int, bool]]]]:
    modules = _modules()
    return modules, {name: _imports(name, path, modules) for name, path in modules.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_the_graph_is_read() -> None:
    """Guard against a vacuous check: known edges, including one inside a function, are found."""
    modules, imports = _graph()
    assert len(modules) > 40
    targets = {m for m, _, _ in imports["innverse.models.winnet"]}
    assert {"innverse.nn", "innverse.models.io", "innverse.nn.kernels"} <= targets
    lazy = {m for m, _, _ in imports["innverse.models.registry"]}  # imports inside the kind factories
    assert "innverse.models.winnet" in lazy


def test_no_import_cycles() -> None:
    modules, imports = _graph()
    edges = {m: {t for t, _, runtime in imports[m] if runtime and t in modules and t != m} for m in modules}
    cycles = _cycles(edges)
    assert not cycles, "import cycles among innverse's modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_a_cycle_is_detected() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_layers_point_one_way() -> None:
    modules, imports = _graph()
    unknown = sorted({_part(m) for m in modules} - set(RANK))
    assert not unknown, f"give these parts of innverse a layer in tests/test_imports.py: {unknown}"
    bad = []
    for m, targets in imports.items():
        for t, line, _ in targets:
            src, dst = _part(m), _part(t)
            if src == "nn" and dst != "nn":
                bad.append(f"{m}:{line} imports {t} (innverse.nn imports nothing else of innverse)")
            elif RANK[dst] > RANK[src]:
                bad.append(f"{m}:{line} imports {t} ({src} is below {dst})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_models_import_only_the_layers_below() -> None:
    """The rule the models are held to, spelled out: no solver, training, benchmark, API or CLI code."""
    _, imports = _graph()
    above = {"solvers", "sampling", "apps", "hub", "train", "bench", "benchmark", "api", "commands", "cli"}
    bad = [
        f"{m} imports {t}"
        for m, targets in imports.items()
        if _part(m) == "models"
        for t, _, _ in targets
        if _part(t) in above
    ]
    assert not bad, bad


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module", ["innverse.nn", "innverse.nn.testing", "innverse.nn.kernels"])
def test_import_nn_needs_only_torch(module: str) -> None:
    r = _fresh(
        f"import {module}, sys; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PIL', 'safetensors') "
        "or (m.startswith('innverse.') and not m.startswith('innverse.nn'))); "
        "print(bad); assert not bad"
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_innverse_is_lazy() -> None:
    r = _fresh(
        "import innverse, sys; assert 'torch' not in sys.modules and 'PIL' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('torch', 'PIL', 'innverse.')))"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = _fresh("import innverse, sys; assert callable(innverse.denoise) and 'innverse.api' in sys.modules")
    assert r.returncode == 0, r.stdout + r.stderr


#: what the command line reaches only through :mod:`innverse.api`: a whole module (``None``) or the
#: listed names of a module (the tensor-level functions that the API's functions wrap)
THROUGH_API: dict[str, frozenset[str] | None] = {
    "innverse.solvers": None,
    "innverse.apps.dereflect": frozenset({"remove_reflection_tensor"}),
}


def _api_bypasses(name: str, source: str, is_package: bool = False) -> list[str]:
    """``"line: what"`` for every import statement of module ``name`` (anywhere in ``source``) that
    takes something :data:`THROUGH_API` lists from below the API."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            pairs = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            pairs = [(target, alias.name) for alias in node.names]
        else:
            continue
        for target, what in pairs:
            full = f"{target}.{what}" if what else target
            for lower, names in THROUGH_API.items():
                whole = names is None and (full == lower or full.startswith(lower + "."))
                if whole or (names is not None and target == lower and what in names):
                    found.append(f"{node.lineno}: {full}")
    return found


def test_the_api_bypass_check_finds_bypasses() -> None:
    """Guard against a vacuous check: each way of reaching past the API is found, the API is not."""
    src = (
        "from innverse.solvers.denoise import denoise_tensor\n"
        "def f():\n    import innverse.solvers.pnp\n    from innverse import solvers\n"
        "    from ..apps.dereflect import remove_reflection_tensor, load_separator\n"
        "    from innverse.api import denoise\n    from innverse.apps.dereflect import sample_paths\n"
    )
    assert _api_bypasses("innverse.commands.x", src) == [
        "1: innverse.solvers.denoise.denoise_tensor",
        "3: innverse.solvers.pnp",
        "4: innverse.solvers",
        "5: innverse.apps.dereflect.remove_reflection_tensor",
    ]


def test_commands_compute_through_the_public_api() -> None:
    """The command line denoises, deblurs and removes reflections with :mod:`innverse.api` (models
    loaded once with its helpers), not with the solvers underneath it."""
    modules, imports = _graph()
    cli = {m: p for m, p in modules.items() if m == "innverse.cli" or m.startswith("innverse.commands")}
    for m in ("innverse.commands.denoise", "innverse.commands.deblur", "innverse.commands.dereflect"):
        assert m in cli, m
        assert "innverse.api" in {t for t, _, _ in imports[m]}, f"{m} does not use innverse.api"
    bad = [
        f"{m}:{hit}"
        for m, p in sorted(cli.items())
        for hit in _api_bypasses(m, p.read_text(), p.name == "__init__.py")
    ]
    assert not bad, "the command line reaches past innverse.api:\n" + "\n".join(bad)
