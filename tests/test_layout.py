"""The package map holds: no import cycle between modules, and the layers import only downwards."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "rewardlab"
# lower layers first; a module may import from its own layer or a lower one
LAYERS = [{"core"}, {"reward"}, {"rl"}, {"brme", "tree", "rcfd", "shaping", "gao", "stack"}, {"frontier"}, {"reporting"},
          {"reproduce", "train", "__init__"}]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every rewardlab module -> the rewardlab modules it imports at module level."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rewardlab"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("rewardlab")}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_modules_import_without_cycles():
    graph, state = _imports(), {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            assert state.get(target) != "open", f"import cycle: {' -> '.join(path + [target])}"
            if target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_layers_import_only_downwards():
    upward = [(module, target) for module, targets in _imports().items() for target in targets
              if _layer(target) > _layer(module)]
    assert not upward, f"imports from a higher layer: {upward}"
