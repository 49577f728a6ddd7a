"""Property-based API tests: schemathesis against the served schema of a real server.

``make api-fuzz`` (and so ``make test`` and CI) runs this. It

1. creates a fresh database: on the PostgreSQL server ``DATABASE_URL`` points
   at (a new database next to it, dropped at the end), else SQLite in a
   temporary folder;
2. migrates it and mints two tokens from the local issuer (the same path as
   ``make run``'s printed token);
3. starts the real server (``gunicorn -c gunicorn.conf.py``, ``QUIRE_SERVE=all``,
   as ``make run`` serves) on a free loopback port;
4. runs schemathesis (``.ci/schemathesis.toml``) against ``/api/schema/``:
   every operation but sign-out and account deletion, with one user, for a
   bounded time; then those two, last, with a second user;
5. writes the reports under ``var/api-fuzz/`` (JUnit XML, NDJSON events, the
   server's log) and exits non-zero on any failure.

Throttles and AI quotas are raised for the run: the fuzzer would otherwise
spend its budget on 429s. The server's ``max_tokens`` cap is the run's one
model's, so that the schema's maximum is what that model takes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG = BASE_DIR / ".ci" / "schemathesis.toml"
# Known failures accepted while they are being fixed (empty when there are
# none); a failure not in it fails the run.
BASELINE = BASE_DIR / ".ci" / "schemathesis-baseline.json"
# Operations that end the session or the account: run last, with their own user.
FINAL_OPERATIONS = ["me_sign_out_post", "me_delete"]
STARTUP_SECONDS = 60
STATEFUL_SECONDS = 25
FINAL_SECONDS = 8
MIGRATE_SECONDS = 180


def _say(*parts: str) -> None:
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Database:
    """A fresh database for one run: PostgreSQL next to DATABASE_URL, else SQLite."""

    def __init__(self, database_url: str, workdir: Path) -> None:  # noqa: D107
        self._admin_url = ""
        self.name = ""
        parts = urlsplit(database_url)
        if parts.scheme.startswith("postgres"):
            self.name = f"quire_apifuzz_{uuid.uuid4().hex[:12]}"
            self._admin_url = urlunsplit(parts._replace(path="/postgres"))
            self.url = urlunsplit(parts._replace(path="/" + self.name))
        else:
            self.url = f"sqlite:///{workdir / 'api-fuzz.sqlite3'}"

    @property
    def vendor(self) -> str:
        """Return ``postgresql`` or ``sqlite``."""
        return "postgresql" if self.name else "sqlite"

    def _execute(self, statement: sql.Composed) -> None:
        with psycopg.connect(self._admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def create(self) -> None:
        """Create the database (PostgreSQL only; SQLite creates its file)."""
        if self.name:
            self._execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
            )

    def drop(self) -> None:
        """Drop the database (PostgreSQL only)."""
        if self.name:
            self._execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.name)
                )
            )


def _environment(database: Database, var_dir: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.local",
            "DATABASE_URL": database.url,
            "QUIRE_VAR_DIR": str(var_dir),
            "PORT": str(port),
            "QUIRE_SERVE": "all",
            # SQLite takes one writer at a time: one worker there.
            "WEB_CONCURRENCY": "2" if database.vendor == "postgresql" else "1",
            # Stopped at the end without waiting for idle keep-alive connections.
            "GUNICORN_GRACEFUL_TIMEOUT": "3",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "warning",
            # The fuzzer is one client sending thousands of requests.
            "API_THROTTLE_ANON": "1000000/min",
            "API_THROTTLE_USER": "1000000/min",
            "API_THROTTLE_SCOPES": "ai=1000000/min",
            "AI_REQUESTS_PER_MINUTE": "1000000",
            "AI_TOKENS_PER_MONTH": "2000000000",
            "AI_MOCK_CHUNK_DELAY": "0",
            # The schema's max_tokens maximum is the server's cap; a model's
            # own cap may be lower, which no schema can tie to `model`. The
            # run's one model (quire-mock, migration 0002) takes 4096.
            "AI_MAX_TOKENS_CAP": "4096",
        }
    )
    for name in ("COGNITO_USER_POOL", "COGNITO_JWKS_URL", "AI_PROVIDERS"):
        env.pop(name, None)
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [str(BIN / "python"), "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=MIGRATE_SECONDS,
    )
    return result.stdout.strip()


def _wait_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.stdout.write(log.read_text())
            raise SystemExit("api-fuzz: the server exited before it was ready")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.stdout.write(log.read_text())
    raise SystemExit(f"api-fuzz: the server was not ready in {STARTUP_SECONDS} s")


def _schemathesis(
    url: str,
    token: str,
    report_dir: Path,
    label: str,
    extra: list[str],
    baseline: Path | None = BASELINE,
) -> int:
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        url + "/api/schema/",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "junit,ndjson",
        "--report-junit-path",
        str(report_dir / f"{label}.junit.xml"),
        "--report-ndjson-path",
        str(report_dir / f"{label}.ndjson"),
        *(["--baseline", str(baseline)] if baseline else []),
        *extra,
    ]
    _say(f"== api-fuzz ({label}): schemathesis", " ".join(command[4:5] + extra))
    # Shown as it runs and kept next to the reports.
    with (
        (report_dir / f"{label}.txt").open("w") as copy,
        subprocess.Popen(  # noqa: S603 - schemathesis from this virtualenv
            command, cwd=BASE_DIR, stdout=subprocess.PIPE, text=True
        ) as process,
    ):
        for line in process.stdout or ():
            sys.stdout.write(line)
            copy.write(line)
    return process.returncode


def main() -> int:
    """Run the whole api-fuzz and return its exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-time",
        type=int,
        default=int(os.environ.get("API_FUZZ_MAX_TIME", "50")),
        help="seconds for the per-operation phases (default: %(default)s, "
        "API_FUZZ_MAX_TIME); the stateful phase has 25 more, the final part 8",
    )
    parser.add_argument(
        "--report-dir", type=Path, default=BASE_DIR / "var" / "api-fuzz"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="report every failure, the accepted ones too",
    )
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="record this run's failures as accepted (.ci/schemathesis-baseline.json)",
    )
    parser.add_argument(
        "schemathesis_args", nargs="*", help="more arguments for `schemathesis run`"
    )
    options = parser.parse_args()
    started = time.monotonic()
    report_dir: Path = options.report_dir
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir(parents=True)
    workdir = Path(tempfile.mkdtemp(prefix="quire-api-fuzz-"))
    database = Database(os.environ.get("DATABASE_URL", ""), workdir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _environment(database, workdir, port)
    log = report_dir / "server.log"
    server = None
    status = 0
    try:
        database.create()
        _say(f"== api-fuzz: {database.vendor} database, migrating")
        _manage(env, "migrate", "--noinput", "--verbosity", "0")
        with log.open("w") as output:
            server = subprocess.Popen(  # noqa: S603 - the command make run serves with
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"],
                cwd=BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Minted while the server boots.
        tokens = [
            _manage(env, "issue_dev_token", "--email", email, "--ttl", "3600")
            for email in ("fuzz@example.com", "fuzz-final@example.com")
        ]
        _wait_ready(url, server, log)
        _say(
            f"== api-fuzz: server ready on {url} after {time.monotonic() - started:.0f} s"
        )
        extra = list(options.schemathesis_args)
        if options.update_baseline:
            extra.append("--baseline-update")
        excluded = [
            arg for op in FINAL_OPERATIONS for arg in ("--exclude-operation-id", op)
        ]
        included = [
            arg for op in FINAL_OPERATIONS for arg in ("--include-operation-id", op)
        ]
        runs = [
            # Every operation on its own: examples, boundary cases, random data.
            (
                "main",
                tokens[0],
                ["--phases", "examples,coverage,fuzzing"],
                options.max_time,
                excluded,
            ),
            # Chains along the schema's links (create -> read -> edit...), with
            # its own budget so that a slow machine does not starve it.
            (
                "stateful",
                tokens[0],
                ["--phases", "stateful"],
                STATEFUL_SECONDS,
                excluded,
            ),
            # Sign-out and account deletion, last, with their own user.
            (
                "final",
                tokens[1],
                ["--phases", "examples,coverage,fuzzing"],
                FINAL_SECONDS,
                included,
            ),
        ]
        for label, token, phases, seconds, selection in runs:
            code = _schemathesis(
                url,
                token,
                report_dir,
                label,
                [*phases, "--max-time", str(seconds), *selection, *extra],
                baseline=None if options.no_baseline else BASELINE,
            )
            status = status or code
    finally:
        _say(f"== api-fuzz: stopping after {time.monotonic() - started:.0f} s")
        if server is not None:
            os.killpg(server.pid, 15)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
                server.wait()
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    _say(
        f"== api-fuzz: {'passed' if status == 0 else 'FAILED'} in "
        f"{time.monotonic() - started:.0f} s; reports in {report_dir}"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
