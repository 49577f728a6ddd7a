"""Benchmark what formatting a request's log lines costs, per line.

Every request writes two lines in production (``quire.request`` from the
middleware and ``gunicorn.access``), each through ``project.logging``'s
formatter. This formats those two records over and over in one process and
reports the CPU time per line, as the median of interleaved rounds, for:

- ``json``: ``JsonFormatter`` as production runs it;
- ``json, all patterns``: the same with ``redact``'s trigger-word check off,
  so every string goes through every redaction pattern (the slow path that
  check replaces);
- ``console``: ``ConsoleFormatter`` with colours (``make run`` at a terminal);
- ``baseline``: with ``--baseline REF``, the ``JsonFormatter`` of
  ``project/logging.py`` at git revision REF (e.g. the hand-written one
  before structlog).

Ratios are against ``json`` in the same round. No server, no network, no
database. Example::

    .venv/bin/python bench/logformat.py
    .venv/bin/python bench/logformat.py --baseline 4370cca --rounds 7
"""

import argparse
import importlib.util
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.test")

import project.logging as quire_logging  # noqa: E402 - needs sys.path first

ACCESS_ATOMS = {
    "m": "GET",
    "U": "/api/v1/documents/3f1c9a2e-8d3b-4c55-9a51-0c9f4c1b2d7e/",
    "q": "",
    "s": "200",
    "D": 1834,
    "B": 412,
    "h": "10.0.1.17",
    "a": "Mozilla/5.0 (X11; Linux x86_64) Quire/1.0",
    "{x-request-id}o": "9b1f3c0e5d2a4e8f9c7b6a5d4e3f2a1b",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--lines", type=int, default=20_000, help="lines per round")
    parser.add_argument("--baseline", help="git revision of a formatter to compare")
    return parser.parse_args()


def records() -> list[logging.LogRecord]:
    """Return a request's two records, as the middleware and gunicorn make them."""
    request = logging.LogRecord(
        "quire.request",
        logging.INFO,
        __file__,
        1,
        "%s %s %s",
        ("GET", ACCESS_ATOMS["U"], 200),
        None,
    )
    request.__dict__.update(
        method="GET", path=ACCESS_ATOMS["U"], status=200, duration_ms=1.834
    )
    access = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(r)s", (ACCESS_ATOMS,), None
    )
    return [request, access]


def baseline_formatter(revision: str) -> logging.Formatter:
    """Import ``project/logging.py`` at ``revision`` and return its JsonFormatter."""
    source = subprocess.run(
        ["git", "show", f"{revision}:project/logging.py"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="quire-logformat-"))
    path = folder / "baseline_logging.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_logging", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.JsonFormatter()


def per_line_us(format_line, lines: int, batch: list[logging.LogRecord]) -> float:
    """Return the CPU microseconds per formatted line over ``lines`` lines."""
    count = lines // len(batch)
    start = time.process_time()
    for _ in range(count):
        for record in batch:
            format_line(record)
    return (time.process_time() - start) / (count * len(batch)) * 1e6


def main() -> None:
    args = parse_args()
    batch = records()
    json_formatter = quire_logging.JsonFormatter()
    console = quire_logging.ConsoleFormatter(colors=True)
    every_pattern = re.compile("")  # matches any text: the trigger check is off
    trigger = quire_logging._TRIGGER

    def json_all_patterns(record: logging.LogRecord) -> str:
        quire_logging._TRIGGER = every_pattern
        try:
            return json_formatter.format(record)
        finally:
            quire_logging._TRIGGER = trigger

    variants = {
        "json": json_formatter.format,
        "json, all patterns": json_all_patterns,
        "console": console.format,
    }
    if args.baseline:
        variants[f"baseline {args.baseline}"] = baseline_formatter(args.baseline).format
    for format_line in variants.values():  # warm-up
        per_line_us(format_line, 2_000, batch)
    results: dict[str, list[float]] = {name: [] for name in variants}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        this_round = {
            name: per_line_us(format_line, args.lines, batch)
            for name, format_line in variants.items()
        }
        for name, value in this_round.items():
            results[name].append(value)
            ratios[name].append(value / this_round["json"])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {args.rounds} rounds of {args.lines:,} lines"
    )
    print(f"{'formatter':<28} {'µs per line':>12} {'× json':>8}   rounds (× json)")
    for name in variants:
        rounds = ", ".join(f"{r:.2f}" for r in ratios[name])
        print(
            f"{name:<28} {statistics.median(results[name]):>12.1f} "
            f"{statistics.median(ratios[name]):>8.2f}   ({rounds})"
        )


if __name__ == "__main__":
    main()
