"""Count the CPU instructions one API request costs Django's process, with callgrind.

Wall-clock figures on a shared machine move by a third from run to run;
instruction counts do not (valgrind counts the same instructions for the
same code and inputs, whatever else the machine is doing). This runs a
request through Django's WSGI handler in process (no server, no sockets;
the database is real: the documents benchmark's, seeded by
``bench/documents.py``) under ``valgrind --tool=callgrind`` twice, with
``--warm`` and ``--warm + --requests`` requests, and prints the difference
per request: start-up and warm-up cancel out. PostgreSQL's own work is not
counted (it is another process); neither is gunicorn's HTTP handling.

    apt-get install -y valgrind
    .venv/bin/python bench/instructions.py                 # get, list, ceiling
    .venv/bin/python bench/instructions.py --only list --baseline /tmp/quire-base

``ceiling`` is the bare view of ``bench/ceiling/settings.py``.
``--baseline DIR`` counts the same requests in another checkout (its own
code, this virtualenv) for an A/B.
"""

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = {
    "get": "",  # the bench user's first document
    "list": "/api/v1/documents/?page_size=50",
    "ceiling": "/ceiling",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=list(PATHS), action="append")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/quire_bench_documents",
    )
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument(
        "--inner", nargs=2, metavar=("NAME", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if not 10 <= args.requests <= 5000 or not 1 <= args.warm <= 1000:
        parser.error("--requests 10..5000, --warm 1..1000")
    return args


def serve(name: str, count: int, database_url: str) -> None:
    """Answer ``count`` requests of ``name`` in this process (under valgrind)."""
    sys.path.insert(0, os.getcwd())
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        # What the load balancer adds to every request.
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64)",
        "HTTP_ACCEPT": "*/*",
        "HTTP_X_FORWARDED_FOR": "203.0.113.7",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "SCRIPT_NAME": "",
    }
    if name == "ceiling":
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.ceiling.settings"
        import django

        django.setup()
        path = PATHS[name]
    else:
        os.environ["DATABASE_URL"] = database_url
        os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
        os.environ["API_THROTTLE_USER"] = "100000000/min"
        os.environ["LOG_LEVEL"] = "warning"
        import django

        django.setup()
        from accounts import local_issuer
        from accounts.models import User
        from documents.models import Document

        user = User.objects.get(email="bench@example.com")
        token = local_issuer.issue_token(sub=user.sub, email=user.email, ttl=3600)
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        path = PATHS[name]
        if not path:
            doc = Document.objects.filter(owner=user).order_by("pk").first()
            path = f"/api/v1/documents/{doc.pk}/"
    from django.core.handlers.wsgi import WSGIHandler

    route, _, query = path.partition("?")
    environ |= {"PATH_INFO": route, "QUERY_STRING": query}
    handler = WSGIHandler()
    statuses: list[str] = []
    for _ in range(count):
        body = handler(
            {**environ, "wsgi.input": io.BytesIO(b"")},
            lambda status, headers, exc_info=None: statuses.append(status),
        )
        b"".join(body)
        body.close()
    if not statuses[-1].startswith("200"):
        raise SystemExit(f"{path}: {statuses[-1]}")


def _inner(name: str, count: int, args: argparse.Namespace) -> list[str]:
    return [
        str(ROOT / ".venv/bin/python"),
        str(ROOT / "bench/instructions.py"),
        "--database-url",
        args.database_url,
        "--inner",
        name,
        str(count),
    ]


def warm(checkout: Path, name: str, args: argparse.Namespace) -> None:
    """Run one request outside valgrind: bytecode compiled, signing key made.

    A checkout's first run compiles its modules and, for the local issuer,
    makes its signing key; counted, either would land in one of the two runs
    only.
    """
    subprocess.run(
        _inner(name, 1, args),
        cwd=checkout,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        timeout=600,
        check=True,
    )


def instructions(checkout: Path, name: str, count: int, args) -> int:
    """Return the instructions callgrind counts for ``count`` requests."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            *_inner(name, count, args),
        ],
        cwd=checkout,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    ).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main() -> None:
    args = parse_args()
    if args.inner:
        serve(args.inner[0], int(args.inner[1]), args.database_url)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install -y valgrind")
    checkouts = [("this", ROOT)]
    if args.baseline is not None:
        checkouts.append(("baseline", args.baseline.resolve()))
    print("| request | checkout | instructions per request |")
    print("|---|---|---:|")
    for name in args.only or list(PATHS):
        for label, checkout in checkouts:
            warm(checkout, name, args)
            short = instructions(checkout, name, args.warm, args)
            long = instructions(checkout, name, args.warm + args.requests, args)
            per_request = (long - short) / args.requests
            print(f"| {name} | {label} | {per_request:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
