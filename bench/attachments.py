"""Benchmark a local-mode attachment upload through production gunicorn.

Generates a file (default 1 GiB) under a scratch folder in ``var/``, times a
plain file copy of it on the same disk, then starts gunicorn on loopback with
the project's ``gunicorn.conf.py`` (one worker, SQLite and media in the
scratch folder) and uploads the file as ``multipart/form-data`` to
``POST /api/v1/documents/{id}/attachments/`` with a real local-issuer token.
Reports the worker's peak RSS growth (``VmHWM`` from ``/proc``, against its
RSS after a warm-up upload; target < 50 MB) and the upload throughput as a
ratio to the plain copy. Everything is bounded by ``--timeout``; the scratch
folder is removed at the end. Example::

    .venv/bin/python bench/attachments.py            # 1 GiB
    .venv/bin/python bench/attachments.py --size-mb 256
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 1024 * 1024
BOUNDARY = "quirebenchboundary7d1f0c"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size, MiB")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--timeout", type=int, default=600, help="seconds, overall")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    if not 1 <= args.size_mb <= 4096:
        parser.error("--size-mb must be 1..4096")
    if not 30 <= args.timeout <= 1800:
        parser.error("--timeout must be 30..1800 seconds")
    return args


def generate(path: Path, size: int) -> str:
    """Write ``size`` bytes of UTF-8 text to ``path``; return its SHA-256."""
    line = b"Quire attachment benchmark: the quick brown fox jumps over it.\n"
    block = (line * (CHUNK // len(line) + 1))[:CHUNK]
    sha = hashlib.sha256()
    written = 0
    with path.open("wb") as handle:
        while written < size:
            piece = block[: min(CHUNK, size - written)]
            handle.write(piece)
            sha.update(piece)
            written += len(piece)
    return sha.hexdigest()


def drop_from_cache(path: Path) -> None:
    """Flush ``path`` to disk so neither run pays for the other's dirty pages."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def time_copy(src: Path, dst: Path) -> float:
    """Return seconds taken to copy ``src`` to ``dst`` and flush it to disk."""
    started = time.perf_counter()
    shutil.copyfile(src, dst)
    drop_from_cache(dst)
    return time.perf_counter() - started


def setup(scratch: Path) -> tuple[str, str, dict[str, str]]:
    """Migrate a scratch SQLite database; return (token, document id, env)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
        "QUIRE_VAR_DIR": str(scratch),
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(scratch / "media"),
        "ATTACHMENT_MAX_BYTES": str(8 * 1024**3),
        "ATTACHMENT_USER_QUOTA_BYTES": str(16 * 1024**3),
        "AWS_STORAGE_BUCKET_NAME": "",
        "LOG_LEVEL": "warning",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from accounts import local_issuer
    from accounts.models import User
    from documents.models import Document

    call_command("migrate", verbosity=0)
    email = "bench@example.com"
    user = User.objects.create(
        email=email, sub=local_issuer.sub_for_email(email), is_email_verified=True
    )
    document = Document.objects.create(owner=user, title="Bench", last_editor=user)
    token = local_issuer.issue_token(sub=user.sub, email=email, ttl=3600)
    return token, str(document.pk), env


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout}s")


def worker_pid(master: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise SystemExit("no gunicorn worker appeared")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"{field} not in /proc/{pid}/status")


def multipart_body(path: Path, filename: str):
    """Yield a multipart body streaming ``path``; return it with its length."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def chunks():
        yield head
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        yield tail

    return chunks(), length


def upload(base: str, token: str, document: str, path: Path, timeout: float) -> dict:
    import httpx

    body, length = multipart_body(path, path.name)
    response = httpx.post(
        f"{base}/api/v1/documents/{document}/attachments/",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        },
        timeout=timeout,
    )
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text}")
    return response.json()


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    size = args.size_mb * CHUNK
    (ROOT / "var").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-attachments-", dir=ROOT / "var"))
    server = None
    try:
        source = scratch / "source.txt"
        small = scratch / "warmup.txt"
        sha = generate(source, size)
        generate(small, 64 * 1024)
        drop_from_cache(source)
        copy_seconds = time_copy(source, scratch / "copy.txt")
        (scratch / "copy.txt").unlink()

        token, document, env = setup(scratch)
        base = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "WEB_CONCURRENCY": "1",
                "GUNICORN_BIND": f"127.0.0.1:{args.port}",
                "GUNICORN_TIMEOUT": str(args.timeout),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_ready(base + "/healthz")
        worker = worker_pid(server.pid)
        upload(base, token, document, small, 30)  # warm up imports and caches
        baseline_kb = status_kb(worker, "VmRSS")
        remaining = args.timeout - (time.monotonic() - started)
        upload_started = time.perf_counter()
        result = upload(base, token, document, source, max(remaining, 10))
        from attachments.models import Attachment

        stored = scratch / "media" / Attachment.objects.get(pk=result["id"]).storage_key
        drop_from_cache(stored)
        upload_seconds = time.perf_counter() - upload_started
        peak_kb = status_kb(worker, "VmHWM")
        if result["checksum_sha256"] != sha or stored.stat().st_size != size:
            raise SystemExit("stored file differs from the source")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)

    mib = size / CHUNK
    report = {
        "size_mib": args.size_mb,
        "copy_mib_s": round(mib / copy_seconds, 1),
        "upload_mib_s": round(mib / upload_seconds, 1),
        "throughput_ratio_to_copy": round(copy_seconds / upload_seconds, 3),
        "worker_rss_baseline_mib": round(baseline_kb / 1024, 1),
        "worker_peak_rss_growth_mib": round((peak_kb - baseline_kb) / 1024, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}",
    }
    if args.json:
        print(json.dumps(report))
        return
    print(json.dumps(report, indent=2))
    verdict = "OK" if report["worker_peak_rss_growth_mib"] < 50 else "OVER TARGET"
    print(f"peak RSS growth target < 50 MiB: {verdict}")


if __name__ == "__main__":
    main()
