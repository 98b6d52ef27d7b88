"""The layers of pbrl (docs/ARCHITECTURE.md), checked over its import graph.

The graph is read from the source with ``ast`` and holds every import a module can run,
those inside functions included (imports under ``if TYPE_CHECKING:`` never run and are left
out). import-linter (grimp) would read the same graph, but it finds a package's modules by
walking the package's own folder, and pbrl maps ``pbrl.envs`` and ``pbrl.clip_ui`` from
``envs/`` and ``clip_ui/`` (pyproject's package-dir), which it would not see.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"pbrl": ROOT / "pbrl", "pbrl.envs": ROOT / "envs", "pbrl.clip_ui": ROOT / "clip_ui"}

# Modules that may name a family: the families themselves and the applications on top.
FAMILY_CODE = ("pbrl.text", "pbrl.families")
APPLICATIONS = ("pbrl.cli", "pbrl.__main__", "pbrl.clip_ui", "pbrl.env_table")
# What the environments may import of pbrl: their own package, the shared errors and the
# torch-free text pieces the response game reads (its tasks and tokenizers).
ENVS_MAY_IMPORT = ("pbrl.envs", "pbrl.errors", "pbrl.text.tasks", "pbrl.text.tokenizer", "pbrl.text.model_dir",
                   "pbrl.text.hf_tokenizer", "pbrl.text.formats", "pbrl.text")
LEARNING_LIBRARIES = ("torch", "stable_baselines3", "transformers")
# The core's layers (docs/ARCHITECTURE.md): a module imports only from its own layer or below.
LAYERS = {
    0: "types family io errors hyperparams",
    1: "dataset schedule preference_loss reward_config store_base",
    2: "reward_model reward_io reward_nets reward_encoders query clips learned_reward store store_pg oracle asking "
       "config",
    3: "learner diagnostics callbacks human rl group_ppo media run_dir plots progress baseline",
    4: "run trainer",
    5: "bench bench_ray store_bench atari_speed bench_stats bench_report imitation_pc env_table reliability text.bench "
       "text.align",
    6: "cli options __main__",
}
LAYER = {f"pbrl.{name}": n for n, names in LAYERS.items() for name in names.split()}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, annotations: bool = False) -> set[str]:
    """Every module ``module`` imports when it runs (at any depth of its code); with
    ``annotations``, those under ``if TYPE_CHECKING:`` too."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not annotations:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base
                                                                                                  else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


GRAPH = {module: {m for m in _imports(module) if m in MODULES and m != module} for module in MODULES}
# for cycles, the imports of annotations count too: two modules that name each other's types
# are one module in two files
TYPED_GRAPH = {module: {m for m in _imports(module, True) if m in MODULES and m != module} for module in MODULES}
EXTERNAL = {module: {m for m in _imports(module) if m not in MODULES} for module in MODULES}


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(TYPED_GRAPH[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(TYPED_GRAPH):
        if v not in index:
            connect(v)
    return found


def test_the_graph_sees_every_package():
    assert {"pbrl.run", "pbrl.envs.factory", "pbrl.clip_ui.app", "pbrl.text.family"} <= set(MODULES)
    assert "pbrl.learner" in GRAPH["pbrl.run"]  # an import at module level
    assert "pbrl.text.hf_tokenizer" in GRAPH["pbrl.text.model_dir"]


def test_no_module_imports_itself_round_a_cycle():
    assert _cycles() == []


def test_the_core_never_imports_a_family_implementation():
    core = [m for m in MODULES if not _within(m, FAMILY_CODE + APPLICATIONS + ("pbrl.envs",))]
    offenders = {m: sorted(i for i in GRAPH[m] if _within(i, FAMILY_CODE)) for m in core}
    assert {m: i for m, i in offenders.items() if i} == {}, "reach a family through pbrl.family's registry strings"


def test_every_core_module_has_a_layer_and_imports_only_its_own_or_lower_ones():
    top = [m for m in MODULES if m.count(".") == 1 and not _within(m, FAMILY_CODE + ("pbrl.envs", "pbrl.clip_ui"))]
    assert sorted(m for m in top if m not in LAYER) == []  # a new module: give it a layer here and in the docs
    upward = [(m, d) for m in LAYER if m in GRAPH for d in GRAPH[m] if d in LAYER and LAYER[d] > LAYER[m]]
    assert upward == []


def test_family_implementations_build_on_the_core_below_the_run():
    families = [m for m in MODULES if _within(m, FAMILY_CODE) and m not in LAYER]
    assert "pbrl.text.family" in families
    upward = [(m, d) for m in families for d in GRAPH[m] if LAYER.get(d, 0) > 3]
    assert upward == []


def test_the_rating_app_imports_nothing_of_the_command_line():
    upward = [(m, d) for m in MODULES if _within(m, ("pbrl.clip_ui",)) for d in GRAPH[m] if LAYER.get(d, 0) >= 6]
    assert upward == []


def test_the_bench_reaches_the_text_suite_through_strings():
    for module in ("pbrl.bench", "pbrl.bench_report"):
        assert not {i for i in GRAPH[module] if _within(i, FAMILY_CODE)}, module


def test_the_environments_import_no_learning_code():
    for module in (m for m in MODULES if _within(m, ("pbrl.envs",))):
        assert all(_within(i, ENVS_MAY_IMPORT) for i in GRAPH[module]), (module, GRAPH[module])
        assert not {e for e in EXTERNAL[module] if _within(e, LEARNING_LIBRARIES)}, module


@pytest.mark.parametrize("code", [
    "import pbrl",
    "import gymnasium as gym, pbrl; env = gym.make('pbrl/ResponseGame-v0', task='arithmetic'); env.reset(seed=0); "
    "env.step(env.action_space.sample())",
    "import gymnasium as gym, pbrl; gym.make('pbrl/CartPole-v1').reset(seed=0)",
])
def test_importing_pbrl_and_making_an_env_loads_no_torch(code):
    check = (f"{code}\nimport sys\n"
             "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('pbrl'))")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
