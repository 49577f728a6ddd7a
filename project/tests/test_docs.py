"""The repository's documentation stands on its own."""

import ast
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands

import pytest

# The README, the docs pages and the files they include.
DOCS = [
    settings.BASE_DIR / "README.md",
    settings.BASE_DIR / "BENCHMARKS.md",
    settings.BASE_DIR / "infra" / "README.md",
    *sorted((settings.BASE_DIR / "docs").glob("*.md")),
]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_documentation_page_does_not_send_readers_outside_the_repository(page: Path):
    """No page points at the team's working notes, which users never get."""
    text = page.read_text(encoding="utf-8")
    for notes in ("../shared", "shared/DESIGN", "shared/STYLE"):
        assert notes not in text


def test_readme_fits_on_a_few_screens():
    """The README is a front door; the details live in docs/."""
    lines = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150


def _environment_names(path: Path) -> set[str]:
    """Return the environment variables ``path`` reads by a literal name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            called = ast.unparse(node.func)
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and called.startswith(("env", "os.environ.get", "environ.Env()."))
            ):
                names.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def test_every_setting_read_from_the_environment_is_documented():
    """A variable the settings or gunicorn.conf.py read has a row in configuration.md."""
    sources = [
        *sorted((settings.BASE_DIR / "project" / "settings").glob("*.py")),
        settings.BASE_DIR / "gunicorn.conf.py",
    ]
    names = set().union(*(_environment_names(path) for path in sources))
    page = (settings.BASE_DIR / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "DATABASE_URL" in names
    assert sorted(name for name in names if f"`{name}`" not in page) == []


def test_every_management_command_of_ours_is_documented():
    """Each of the project's own ``manage.py`` commands is on the operations page."""
    ours = {"project", "accounts", "documents", "attachments", "aiproxy"}
    commands = {name for name, app in get_commands().items() if app in ours}
    page = (settings.BASE_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "purge_trash" in commands
    assert sorted(name for name in commands if f"`{name}" not in page) == []
