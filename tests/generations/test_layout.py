"""The generations services never import the tasks (the tasks import them and chain the steps they return), and
no module of the app grows past 400 lines (issue 19)."""

import ast
from pathlib import Path

from django.conf import settings

APP = Path(settings.BASE_DIR) / "generations"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_no_service_imports_the_tasks():
    modules = [*APP.glob("services.py"), *(APP / "services").glob("*.py")]  # a module or a package
    offenders = {path.name for path in modules
                 if any(name == "generations.tasks" or name.startswith("generations.tasks.")
                        for name in imported_modules(path))}
    assert offenders == set()


def test_no_module_of_the_app_is_over_400_lines():
    long = {str(path.relative_to(APP)): n for path in APP.rglob("*.py") if "migrations" not in path.parts
            and (n := len(path.read_text().splitlines())) > 400}
    assert long == {}
