"""Benchmark the documents API against a bare Django view, under production gunicorn.

Seeds N documents on PostgreSQL (default 10,000), starts gunicorn on loopback
with the project's ``gunicorn.conf.py`` (production's REST configuration:
``gthread`` workers of 4 threads, as many workers as production starts on
this machine, ``min(2 × CPUs + 1, 4)``; see ``--workers`` and
``--worker-class``), and measures with
``wrk`` in one run: the ceiling, an authenticated ``GET`` of one document
(real local-issuer JWT, row read from PostgreSQL), a list page of 50, and a
full-text search. Prints req/s and p50 latency, and both as ratios to the
ceiling. Each endpoint's req/s ratio is to a ceiling run measured right
before it, seconds apart, so load from elsewhere on a shared machine moves
both sides of a ratio together.

The ceiling is Django with nothing of Quire's in it: a bare view answering a
constant ``JsonResponse``, no middleware (``bench/ceiling/settings.py``),
served by a second gunicorn process with the same ``gunicorn.conf.py``,
worker class and worker count. Production URLs carry no benchmark route.

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``) and PostgreSQL on
127.0.0.1:5432 (user ``postgres``, trust auth, or set ``--pg``). Every load
run is bounded by ``--duration``. Example::

    .venv/bin/python bench/documents.py --docs 10000 --duration 10
    .venv/bin/python bench/documents.py --docs 100000 --only search

``--baseline DIR`` A/B-tests a change: a third gunicorn serves the Quire
checkout in DIR (``git worktree add DIR <commit>``; same virtualenv, same
database, same token) and every Quire endpoint is also measured on it,
interleaved in each round, as ``<endpoint>@base``; the table adds each
endpoint's req/s ratio to its baseline (median of the rounds' ratios).
"""

import argparse
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERS = 50  # other users owning the rest of the documents
OWN_SHARE = 0.2  # the bench user owns this fraction of the documents
SHARED_WITH_BENCH = 200  # others' documents shared with the bench user
WORDS_PER_BODY = 200
VOCABULARY = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000, help="documents to seed")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--port", type=int, default=0, help="the API's port (default: a free one)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers per server (default: production's, "
        "gunicorn.conf.py's min(2 x CPUs + 1, 4))",
    )
    parser.add_argument(
        "--worker-class",
        default="gthread",
        help="gthread (production) or sync (one request per process at a time)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every endpoint this many times, interleaved; report medians",
    )
    parser.add_argument(
        "--worker-threads", type=int, default=4, help="threads per gthread worker"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        help="the servers' LOG_LEVEL (production's is info)",
    )
    parser.add_argument(
        "--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL"
    )
    parser.add_argument("--database", default="quire_bench_documents")
    parser.add_argument("--query", default="", help="search query (default: picked)")
    parser.add_argument(
        "--only", choices=["ceiling", "get", "list", "search"], action="append"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout of Quire to measure side by side (A/B)",
    )
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "manage.py").is_file():
        parser.error("--baseline must be a Quire checkout (no manage.py there)")
    if not 1 <= args.duration <= 120:
        parser.error("--duration must be 1..120 seconds")
    if not 1 <= args.rounds <= 9:
        parser.error("--rounds must be 1..9")
    if not 1 <= args.docs <= 1_000_000:
        parser.error("--docs must be 1..1,000,000")
    return args


def _word(rank: int) -> str:
    rng = random.Random(rank)
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    return "".join(
        rng.choice(consonants) + rng.choice(vowels) for _ in range(2 + rank % 3)
    )


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    import django

    django.setup()


def seed(n_docs: int) -> tuple[str, str, str]:
    """Create users and documents unless already there; return (token, doc id, query)."""
    from django.core.management import call_command
    from django.db import connection

    from accounts import local_issuer
    from accounts.models import User
    from documents.models import Document, DocumentAccess

    call_command("migrate", verbosity=0)
    bench_user, _ = User.objects.get_or_create(
        email="bench@example.com",
        defaults={
            "sub": local_issuer.sub_for_email("bench@example.com"),
            "is_email_verified": True,
            "display_name": "Bench",
        },
    )
    words = [_word(rank) for rank in range(1, VOCABULARY + 1)]
    weights = [1 / rank for rank in range(1, VOCABULARY + 1)]
    if Document.objects.count() != n_docs:
        print(f"seeding {n_docs} documents …", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE documents_document CASCADE")
        others = []
        for n in range(USERS):
            email = f"other{n}@example.com"
            user, _ = User.objects.get_or_create(
                email=email,
                defaults={"sub": local_issuer.sub_for_email(email)},
            )
            others.append(user)
        rng = random.Random(42)
        batch: list = []
        created = 0
        while created < n_docs:
            owner = bench_user if rng.random() < OWN_SHARE else rng.choice(others)
            body = " ".join(rng.choices(words, weights, k=WORDS_PER_BODY))
            title = " ".join(rng.choices(words, weights, k=4)).capitalize()
            batch.append(
                Document(owner=owner, title=title, body=body, last_editor=owner)
            )
            created += 1
            if len(batch) == 2000 or created == n_docs:
                Document.objects.bulk_create(batch)
                batch = []
                print(f"  {created}/{n_docs}", end="\r", flush=True)
        shared = Document.objects.exclude(owner=bench_user).order_by("?")[
            :SHARED_WITH_BENCH
        ]
        DocumentAccess.objects.bulk_create(
            DocumentAccess(
                document=doc, user=bench_user, email=bench_user.email, role="editor"
            )
            for doc in shared
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(flush=True)
    # Fresh statistics and no dead rows, whatever migrations just rewrote.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    doc = Document.objects.filter(owner=bench_user).order_by("pk").first()
    token = local_issuer.issue_token(
        sub=bench_user.sub, email=bench_user.email, ttl=3600
    )
    # A word of middling frequency: rank 300 of a Zipf vocabulary.
    return token, str(doc.pk), words[299]


def free_port() -> int:
    """Return a loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout}s")


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(
    url: str,
    token: str,
    args: argparse.Namespace,
    duration: int,
    connections: int | None = None,
) -> dict:
    connections = connections or args.connections
    cmd = [
        "wrk",
        f"-t{min(args.threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
        url,
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out).groups()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": float(value) * _UNIT[unit],
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _medians(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Return per endpoint the median of each figure over the rounds.

    ``ratio`` is the median of each round's req/s ratio to the ceiling
    measured right before it (side by side), not a ratio of medians.
    """
    results: dict[str, dict] = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds]
        results[name] = {
            key: statistics.median(run[key] for run in runs)
            for key in ("rps", "p50_ms", "p50_c1_ms")
        }
        results[name]["non_2xx"] = sum(run["non_2xx"] for run in runs)
        if "ceiling" in rounds[0]:
            results[name]["ratio"] = statistics.median(
                r[name]["rps"] / r[name].get("ceiling_rps", r["ceiling"]["rps"])
                for r in rounds
            )
        if f"{name}@base" in rounds[0]:
            results[name]["vs_base"] = statistics.median(
                r[name]["rps"] / r[f"{name}@base"]["rps"] for r in rounds
            )
    return results


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    database_url = f"{args.pg}/{args.database}"
    subprocess.run(
        ["psql", args.pg + "/postgres", "-q", "-c", f"CREATE DATABASE {args.database}"],
        capture_output=True,
        check=False,
    )
    setup_django(database_url)
    token, doc_id, word = seed(args.docs)
    query = args.query or word
    port = args.port or free_port()
    ceiling_port = free_port()
    base = f"http://127.0.0.1:{port}"
    targets = {
        "ceiling": f"http://127.0.0.1:{ceiling_port}/ceiling",
        "get": f"{base}/api/v1/documents/{doc_id}/",
        "list": f"{base}/api/v1/documents/?page_size=50",
        "search": f"{base}/api/v1/documents/?q={query}&page_size=20",
    }
    from accounts import local_issuer

    names = args.only or list(targets)
    apps = [(ROOT, "project.wsgi", {})]
    if args.baseline is not None:
        baseline_port = free_port()
        for name in [n for n in names if n != "ceiling"]:
            targets[f"{name}@base"] = targets[name].replace(
                f":{port}/", f":{baseline_port}/"
            )
        names = [n for name in names for n in (name, f"{name}@base") if n in targets]
        apps.append(
            (
                args.baseline.resolve(),
                "project.wsgi",
                {"GUNICORN_BIND": f"127.0.0.1:{baseline_port}"},
            )
        )
    apps.append(
        (
            ROOT,
            "bench.ceiling.wsgi",
            {
                "GUNICORN_BIND": f"127.0.0.1:{ceiling_port}",
                "DJANGO_SETTINGS_MODULE": "bench.ceiling.settings",
            },
        )
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
        "GUNICORN_WORKER_CLASS": args.worker_class,
        # gunicorn turns a sync worker with threads > 1 into gthread.
        "GUNICORN_THREADS": str(
            args.worker_threads if args.worker_class != "sync" else 1
        ),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # Production's is info: one JSON line per request, which the bare
        # view does not write (see --log-level).
        "LOG_LEVEL": args.log_level,
        # The per-user throttle stays on (its counter UPSERT is part of the
        # cost of a request) but at a rate the load cannot reach: a 429 is not
        # a measurement.
        "API_THROTTLE_USER": "100000000/min",
        "API_THROTTLE_ANON": "100000000/min",
        # One signing key for every Quire server (a --baseline checkout
        # would otherwise make its own under its var/).
        "QUIRE_LOCAL_ISSUER_KEY_PATH": str(local_issuer.key_path()),
    }
    if args.workers is not None:
        env["WEB_CONCURRENCY"] = str(args.workers)
    else:
        env.pop("WEB_CONCURRENCY", None)
    servers = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", app],
            cwd=cwd,
            env={**env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for cwd, app, extra in apps
    ]
    rounds: list[dict[str, dict]] = []
    try:
        wait_ready(targets["ceiling"])
        wait_ready(f"{base}/healthz")
        if args.baseline is not None:
            wait_ready(f"http://127.0.0.1:{baseline_port}/healthz")
        for _ in range(args.rounds):
            measured: dict[str, dict] = {}
            for name in names:
                url = targets[name]
                run_wrk(url, token, args, 2)  # warm up connections and caches
                if name != "ceiling" and "ceiling" in names:
                    # The ceiling again, right before: the endpoint's ratio is
                    # to this one (seconds apart), not to the round's first.
                    paired = run_wrk(targets["ceiling"], token, args, args.duration)
                measured[name] = run_wrk(url, token, args, args.duration)
                if name != "ceiling" and "ceiling" in names:
                    measured[name]["ceiling_rps"] = paired["rps"]
                # One connection: p50 is the service time, not time in the
                # queue of 32 connections waiting for 2 workers.
                single = run_wrk(url, token, args, max(args.duration // 2, 1), 1)
                measured[name]["p50_c1_ms"] = single["p50_ms"]
            rounds.append(measured)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
    results = _medians(rounds)
    ceiling = results.get("ceiling")
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; docs={args.docs}; "
        f"gunicorn {args.workers or 'production default number of'} "
        f"{args.worker_class} workers"
        f"{f' of {args.worker_threads} threads' if args.worker_class != 'sync' else ''}; "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; "
        f"search q={query!r}"
    )
    if args.rounds > 1:
        print(
            f"medians of {args.rounds} interleaved rounds; ×ceiling is the median "
            "of each round's ratio; per round ×ceiling: "
            + "; ".join(
                f"{name} "
                + ", ".join(
                    f"{r[name]['rps'] / r[name].get('ceiling_rps', r['ceiling']['rps']):.2f}"
                    for r in rounds
                )
                for name in results
                if ceiling and name != "ceiling"
            )
        )
    print(
        f"| endpoint | req/s (c{args.connections}) | ×ceiling | p50 ms "
        f"(c{args.connections}) | ceiling p50 ÷ p50 | p50 ms (c1) | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        ratio = f"{result['ratio']:.2f}" if ceiling else "-"
        p50_ratio = f"{ceiling['p50_ms'] / result['p50_ms']:.2f}" if ceiling else "-"
        print(
            f"| {name} | {result['rps']:.0f} | {ratio} | {result['p50_ms']:.2f} "
            f"| {p50_ratio} | {result['p50_c1_ms']:.2f} | {result['non_2xx']} |"
        )
    for name, result in results.items():
        if "vs_base" in result:
            print(
                f"{name}: ×baseline {result['vs_base']:.2f} (median of the rounds' "
                "req/s ratios, this checkout ÷ --baseline)"
            )
    failed = [name for name, result in results.items() if result["non_2xx"]]
    if failed:
        sys.exit(f"non-2xx answers during {', '.join(failed)}: figures are not valid")


if __name__ == "__main__":
    main()
