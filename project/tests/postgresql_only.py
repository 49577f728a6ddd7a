"""pytest plugin: tests marked ``postgresql`` run on PostgreSQL or say so.

Production runs on PostgreSQL; a laptop without ``DATABASE_URL`` runs the
suite on SQLite. A test of something only PostgreSQL has (row locks between
connections, the full-text index, prepared statements, the hand-written SQL's
plans) carries ``@pytest.mark.postgresql``:

- on SQLite it is skipped, and the run's last lines list what was not run
  and the command that runs it;
- on PostgreSQL it must run: a marked test that skips, for any reason, fails
  the session, so CI cannot pass without testing what production runs;
- ``--require-postgresql`` (``.ci/run`` passes it) also fails the session
  when the database is not PostgreSQL at all;
- ``--postgresql-note=PATH`` also writes the "not run" lines to ``PATH``
  (empty when all ran), so ``make test`` can repeat them as its last lines.
"""

from pathlib import Path

import pytest

MARKER = "postgresql"
RUN_COMMAND = "DATABASE_URL=postgres://postgres@127.0.0.1:5432/quire make test"


def _on_postgresql() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


class PostgreSQLOnly:
    """Skip marked tests off PostgreSQL; fail the run if one skips on it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.skipped: list[str] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if _on_postgresql():
            return
        skip = pytest.mark.skip(reason="PostgreSQL only")
        for item in items:
            if item.get_closest_marker(MARKER) is not None:
                item.add_marker(skip)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and MARKER in report.keywords:
            self.skipped.append(report.nodeid)

    def problem(self) -> str:
        """Return why this run fails for PostgreSQL's sake, or ``""``."""
        on_postgresql = _on_postgresql()
        if self.config.getoption("require_postgresql") and not on_postgresql:
            return "--require-postgresql: the tests ran on SQLite, not PostgreSQL."
        if on_postgresql and self.skipped:
            return "PostgreSQL-only tests were skipped on PostgreSQL:"
        return ""

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.problem() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def not_run_lines(self) -> list[str]:
        """Return the note on the PostgreSQL-only tests this run skipped."""
        if not self.skipped or _on_postgresql():
            return []
        return [
            "PostgreSQL-only tests not run (this run used SQLite):",
            *(f"  {nodeid}" for nodeid in self.skipped),
            f"Run them with: {RUN_COMMAND}",
        ]

    def pytest_terminal_summary(self, terminalreporter) -> None:
        problem = self.problem()
        note = self.not_run_lines()
        path = self.config.getoption("postgresql_note")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text("".join(f"{line}\n" for line in note))
        if problem:
            terminalreporter.section("PostgreSQL-only tests", red=True)
            terminalreporter.write_line(problem, red=True)
            for nodeid in self.skipped:
                terminalreporter.write_line(f"  {nodeid}")
        elif note:
            terminalreporter.section("PostgreSQL-only tests", yellow=True)
            for line in note:
                terminalreporter.write_line(line, yellow=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-postgresql",
        action="store_true",
        help="fail unless the tests run on PostgreSQL (CI passes it)",
    )
    parser.addoption(
        "--postgresql-note",
        metavar="PATH",
        default="",
        help="write the list of PostgreSQL-only tests not run to PATH",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: needs PostgreSQL; skipped on SQLite, must run on PostgreSQL",
    )
    config.pluginmanager.register(PostgreSQLOnly(config), "quire-postgresql-only")
