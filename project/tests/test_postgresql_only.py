"""The ``postgresql`` marker: skipped with a note on SQLite, never on PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKED = """
import pytest

@pytest.mark.postgresql
def test_marked():
    pytest.skip("a reason that would hide a PostgreSQL-only test")
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_marked.py").write_text(MARKED)
    note = tmp_path / "note.txt"
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "project.tests.postgresql_only",
            "--ds=project.settings.test",
            f"--rootdir={tmp_path}",
            f"--postgresql-note={note}",
            *args,
            str(tmp_path / "test_marked.py"),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_postgresql_marker_skipped_test_fails_run_on_postgresql_only(tmp_path):
    """A marked test that skips fails the run on PostgreSQL; on SQLite it is noted."""
    result = _run(tmp_path)
    note = (tmp_path / "note.txt").read_text()
    if connection.vendor == "postgresql":
        assert result.returncode == 1, result.stdout
        assert "PostgreSQL-only tests were skipped on PostgreSQL" in result.stdout
        assert note == ""
    else:
        assert result.returncode == 0, result.stdout
        assert "test_marked.py::test_marked" in note
        assert "DATABASE_URL=postgres://" in note


@pytest.mark.slow
def test_postgresql_marker_required_fails_on_sqlite(tmp_path):
    """``--require-postgresql`` fails a run that is not on PostgreSQL."""
    result = _run(tmp_path, "--require-postgresql")
    if connection.vendor == "postgresql":
        assert "the tests ran on SQLite" not in result.stdout
    else:
        assert result.returncode == 1, result.stdout
        assert "the tests ran on SQLite, not PostgreSQL" in result.stdout
