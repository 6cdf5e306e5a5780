"""botworker's layout: every button's callback data in ``botworker.callbacks``, routers that never import each
other, no import cycle inside botworker (imports inside functions count too), no file over 400 lines."""

import ast
import importlib
from pathlib import Path

from aiogram.filters.callback_data import CallbackData

import botworker

BOTWORKER = Path(botworker.__file__).parent
ROUTERS = "botworker.routers"


def _modules() -> dict[str, Path]:
    """Every module of botworker (migrations aside), by dotted name."""
    found = {}
    for path in sorted(BOTWORKER.rglob("*.py")):
        parts = path.relative_to(BOTWORKER.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The botworker modules that module ``name`` imports, anywhere in it (module level or inside functions)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)  # "from package import module"
    # The nearest botworker module each import names (an attribute of a module stands for that module).
    resolved = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target.startswith("botworker") and target != name:
            resolved.add(target)
    return resolved


def _router_of(module: str) -> str | None:
    """The feature router a module belongs to: ``botworker.routers.<name>`` (a module or a package)."""
    if not module.startswith(ROUTERS + "."):
        return None
    return ".".join(module.split(".")[:3])


def test_every_callback_data_lives_in_botworker_callbacks():
    for name in MODULES:
        if not name.endswith(".management.commands") and ".management.commands." not in name:
            importlib.import_module(name)
    classes, pending = [], list(CallbackData.__subclasses__())
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    ours = [cls for cls in classes if cls.__module__.split(".")[0] == "botworker"]
    assert ours, "no CallbackData found in botworker"
    assert {f"{cls.__module__}.{cls.__qualname__}" for cls in ours if cls.__module__ != "botworker.callbacks"} == set()


def test_no_router_imports_another_router():
    crossings = sorted(
        f"{module} imports {target}"
        for module in MODULES if _router_of(module)
        for target in _imports(module)
        if target == ROUTERS or _router_of(target) not in (None, _router_of(module))
    )
    assert crossings == []


def test_botworker_has_no_import_cycle():
    graph = {name: _imports(name) for name in MODULES}
    cycles, state = [], {}  # state: 1 while on the current path, 2 once done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_no_botworker_file_is_over_400_lines():
    long = {str(path.relative_to(BOTWORKER.parent)): n for path in MODULES.values()
            if (n := len(path.read_text().splitlines())) > 400}
    assert long == {}


def test_the_import_reader_sees_imports_inside_functions_and_of_submodules():
    # The tests above rely on it: botworker.webhook imports the dispatcher inside a method, and the routers'
    # registry names its routers as "from botworker.routers import avatars, ...".
    assert "botworker.dispatcher" in _imports("botworker.webhook")
    assert {f"{ROUTERS}.{name}" for name in ("avatars", "gallery", "generation")} <= _imports(ROUTERS)
