"""What each middleware costs a bearer-token API call, measured in process.

Calls Django's WSGI handler directly (no server, no sockets) with a real
local-issuer token: the full ``MIDDLEWARE`` list, then the list without each
middleware in turn, then none. Prints CPU time per request (the minimum of
``--repeat`` runs of ``--requests`` calls, process CPU time, so other load on
the machine matters less) and the difference each removal makes. Uses the
documents benchmark's database (``bench/documents.py`` seeds it) or any
Quire database with a user ``bench@example.com``::

    .venv/bin/python bench/middleware.py --path /api/v1/documents/?page_size=50
"""

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/quire_bench_documents",
    )
    parser.add_argument("--path", default="", help="default: GET one document")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--full-only", action="store_true", help="only the full list (A/B of trees)"
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        help="LOG_LEVEL (production's is info: one JSON line per request)",
    )
    args = parser.parse_args()
    if not 1 <= args.requests <= 20_000 or not 1 <= args.repeat <= 9:
        parser.error("--requests 1..20000, --repeat 1..9")
    return args


def main() -> None:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    os.environ["API_THROTTLE_USER"] = "100000000/min"
    os.environ["LOG_LEVEL"] = args.log_level
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    from accounts import local_issuer
    from accounts.models import User
    from documents.models import Document

    user = User.objects.get(email="bench@example.com")
    token = local_issuer.issue_token(sub=user.sub, email=user.email, ttl=3600)
    path = args.path
    if not path:
        doc = Document.objects.filter(owner=user).order_by("pk").first()
        path = f"/api/v1/documents/{doc.pk}/"
    route, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "SCRIPT_NAME": "",
    }

    def per_request_ms(middleware: list[str]) -> float:
        with override_settings(MIDDLEWARE=middleware):
            handler = WSGIHandler()
            statuses = []

            def start_response(status, headers, exc_info=None):
                statuses.append(status)

            best = float("inf")
            # Request log lines (at --log-level info) go where a container's
            # stdout would, not into the table.
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                for _ in range(args.repeat):
                    started = time.process_time()
                    for _ in range(args.requests):
                        body = handler(dict(environ), start_response)
                        b"".join(body)
                        body.close()
                    best = min(best, time.process_time() - started)
            if not statuses[-1].startswith("200"):
                raise SystemExit(f"{path}: {statuses[-1]} with {middleware}")
            return best / args.requests * 1000

    full = list(settings.MIDDLEWARE)
    per_request_ms(full)  # warm up: connections, caches, prepared statements
    baseline = per_request_ms(full)
    print(f"GET {path}: {args.repeat} x {args.requests} requests, min CPU time")
    print("| middleware | ms per request | saved without it |")
    print("|---|---:|---:|")
    print(f"| all {len(full)} | {baseline:.3f} | |")
    if args.full_only:
        return
    for name in full:
        # Authentication and messages need the session: they go with it.
        gone = {name}
        if name.endswith(".SessionMiddleware"):
            gone |= {
                m
                for m in full
                if m.endswith((".AuthenticationMiddleware", ".MessageMiddleware"))
            }
        without = per_request_ms([m for m in full if m not in gone])
        label = " + ".join(sorted(m.rsplit(".", 1)[-1] for m in gone))
        print(f"| without {label} | {without:.3f} | {baseline - without:+.3f} |")
    bare = per_request_ms([])
    print(f"| none | {bare:.3f} | {baseline - bare:+.3f} |")


if __name__ == "__main__":
    main()
