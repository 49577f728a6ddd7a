"""The repository's documentation stands on its own."""

from pathlib import Path

from django.conf import settings

import pytest

DOCS = [
    settings.BASE_DIR / "README.md",
    *sorted((settings.BASE_DIR / "docs").glob("*.md")),
]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_documentation_page_does_not_send_readers_outside_the_repository(page: Path):
    """No page points at the team's working notes, which users never get."""
    assert "../shared" not in page.read_text(encoding="utf-8")


def test_readme_fits_on_a_few_screens():
    """The README is a front door; the details live in docs/."""
    lines = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
