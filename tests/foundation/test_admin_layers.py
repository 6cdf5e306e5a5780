"""The admin code keeps the arrows: ``accounts`` (its admin included) imports no app above it, and ``common``
imports no app of ours at all; imports inside functions count too."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

OUR_APPS = {"accounts", "billing", "promocodes", "payments", "generations", "broadcasts", "botworker", "adoption",
            "config", "backoffice"}


def imported_packages(package: str) -> dict[str, set[str]]:
    found = {}
    for path in sorted((Path(settings.BASE_DIR) / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(settings.BASE_DIR))] = names
    return found


@pytest.mark.parametrize(("package", "allowed"), [("accounts", {"accounts", "common"}), ("common", set())])
def test_a_lower_layer_imports_nothing_above_it(package, allowed):
    wrong = {path: sorted(names & OUR_APPS - allowed) for path, names in imported_packages(package).items()
             if names & OUR_APPS - allowed}
    assert wrong == {}
