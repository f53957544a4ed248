"""Every change of a game goes through app/services/operations.py: no entry point bypasses it."""

import ast
from pathlib import Path

from tests.cli import ROOT, modules_loaded_by

APP = Path(ROOT) / "app"
OPERATIONS = APP / "services" / "operations.py"
CHANGES = {"create_game", "update_game", "delete_game", "clone_game"}
ANNOUNCEMENTS = {"announce_created", "announce_updated", "announce_deleted"}


def _modules_outside_operations():
    for path in sorted(APP.rglob("*.py")):
        if path != OPERATIONS and not path.is_relative_to(APP / "discord"):
            yield path, ast.parse(path.read_text(), str(path))


def test_only_the_operations_layer_changes_games_through_the_games_service():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _modules_outside_operations()
        if path != APP / "services" / "games.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "games"
        and node.attr in CHANGES
    ]
    assert offenders == []


def test_only_the_operations_layer_announces_to_discord():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _modules_outside_operations()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and any(alias.name in ANNOUNCEMENTS for alias in node.names)
    ]
    assert offenders == []


def test_pages_import_nothing_from_the_games_api():
    loaded = modules_loaded_by("app.pages")

    assert "app.pages.views" in loaded
    assert [module for module in loaded if module.startswith("app.games")] == []
