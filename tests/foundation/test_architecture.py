"""The layout rules of docs/architecture.md, checked on the source: arrows point down, no import cycle (imports
inside functions included), no file over 400 lines outside migrations."""

import ast
from collections import defaultdict
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Layers, bottom first. An app may import its own modules and any app of a lower layer; apps of one layer do not
# import each other. `common` is plumbing that imports no app; `config` (settings, URLs) wires everything.
LAYERS = (
    ("common",),
    ("accounts",),
    ("billing",),
    ("promocodes",),
    ("payments", "broadcasts", "generations"),
    ("botworker",),
    ("adoption", "backoffice"),
    ("config",),
)
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}
MAX_LINES = 400


def source_files():
    for app in RANK:
        folder = ROOT / app
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else ():
            if "migrations" not in path.parts:
                yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (module level, functions, TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from package import module` names a module too.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in RANK}


def test_dependencies_point_down():
    wrong = []
    for path in source_files():
        app = path.relative_to(ROOT).parts[0]
        for module in imported_modules(path):
            target = module.split(".")[0]
            if target != app and RANK[target] >= RANK[app]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert sorted(set(wrong)) == []


def test_no_import_cycle_between_modules():
    modules = {module_name(path): path for path in source_files()}
    graph = defaultdict(set)
    for name, path in modules.items():
        for module in imported_modules(path):
            # Resolve `package.name` to the module it is, when it is one of ours.
            while module and module not in modules:
                module = module.rpartition(".")[0]
            if module and module != name and not name.startswith(module + "."):
                graph[name].add(module)
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(modules):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_file_over_400_lines_outside_migrations():
    long = {
        str(path.relative_to(ROOT)): count
        for path in ROOT.rglob("*.py")
        if not ({".venv", "migrations", "node_modules"} & set(path.relative_to(ROOT).parts))
        and (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
