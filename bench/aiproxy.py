"""Benchmark the AI proxy against its floor and against the LiteLLM proxy.

One process tree on loopback, one run, every figure side by side:

- a fast fake OpenAI-compatible upstream (uvicorn, one process, this file's
  ``upstream`` sub-command): the floor when called directly;
- Quire's AI routes under the ASGI gunicorn configuration
  (``QUIRE_SERVE=ai``: uvicorn workers, 2 of them), PostgreSQL, a real bearer
  token from the local issuer, quota reservation/settlement and ledger rows;
- the LiteLLM proxy (``bench/.venv-litellm``, see
  ``bench/litellm-requirements.txt``) with 2 workers, a generated master key,
  configured for the same upstream model;
- a bare JSON view (``/healthz``) under gunicorn ``gthread`` (the REST API's
  configuration), ``sync`` and uvicorn workers, 2 workers each, to back the
  serving-model decision.

Measured: non-stream requests/s at 32 connections, p50 latency at 1
connection, stream time to first byte at 1 connection, and how many slow
streams one 2-worker server holds at once, with the RSS of its process tree.
Every load loop is bounded in both count and time.

Usage (PostgreSQL on 127.0.0.1:5432, user postgres)::

    python3.11 -m venv bench/.venv-litellm
    bench/.venv-litellm/bin/pip install -r bench/litellm-requirements.txt
    .venv/bin/python bench/aiproxy.py            # writes bench/var/aiproxy.json

Options: ``--quick`` (smaller counts), ``--no-litellm``, ``--streams N``,
``--users N``, ``--skip PHASES``, ``--client wrk|python`` (the 32-connection
throughput client; wrk when installed: ``apt-get install wrk``),
``--quire-env NAME=VALUE`` (a setting for Quire's server, repeatable).
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "bench" / "var"
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
LITELLM = ROOT / "bench" / ".venv-litellm" / "bin" / "litellm"
DATABASE = "quire_aiprov_bench"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
PROMPT = [{"role": "user", "content": "Say hello in a few words."}]
PIECES = ["Hello", ",", " this", " is", " the", " bench", " upstream", "."]
SLOW_CHUNKS = 20  # bench-slow: one chunk per second, ~20 s per stream

# -- the fake upstream (runs in its own process) ---------------------------------


async def upstream_app(scope: dict, receive: Any, send: Any) -> None:
    """Answer ``POST /v1/chat/completions`` like OpenAI, fast (a raw ASGI app)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "GET":
        await _send_json(send, {"object": "list", "data": [{"id": "bench-fast"}]})
        return
    request = json.loads(body or b"{}")
    model = request.get("model", "bench-fast")
    created = int(time.time())
    usage = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}
    if not request.get("stream"):
        await _send_json(
            send,
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(PIECES)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )
        return
    slow = model == "bench-slow"
    pieces = PIECES * 3 if slow else PIECES
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream")],
        }
    )

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> bytes:
        data = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    parts += [chunk({"content": piece}) for piece in pieces[:SLOW_CHUNKS]]
    parts.append(chunk({}, "stop"))
    if (request.get("stream_options") or {}).get("include_usage"):
        parts.append(
            b"data: "
            + json.dumps(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            ).encode()
            + b"\n\n"
        )
    parts.append(b"data: [DONE]\n\n")
    if slow:
        for part in parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(1.0)
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": b"".join(parts)})


async def _send_json(send: Any, payload: dict) -> None:
    data = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def run_upstream(port: int) -> None:
    """Serve the fake upstream on 127.0.0.1:``port`` (one process)."""
    import uvicorn

    uvicorn.run(
        upstream_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        backlog=2048,
    )


# -- a small, fast HTTP/1.1 load client --------------------------------------------


class Target:
    """Where and how to send a chat completion, as one or several callers.

    ``tokens`` are the callers' bearer tokens: connection ``i`` of a load
    run sends ``tokens[i % len(tokens)]``, so many users spread over the
    connections (each with their own quota row) as in real use.
    """

    def __init__(
        self, name: str, port: int, path: str, model: str, tokens: list[str]
    ) -> None:
        self.name, self.port, self.path, self.model = name, port, path, model
        self.tokens = tokens

    def request(
        self, *, stream: bool, model: str | None = None, caller: int = 0
    ) -> bytes:
        body: dict[str, Any] = {
            "model": model or self.model,
            "messages": PROMPT,
            "max_tokens": 32,
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        token = self.tokens[caller % len(self.tokens)]
        return raw_request("POST", self.port, self.path, token, body)

    def requests(self, *, stream: bool, callers: int) -> list[bytes]:
        """Return one request per caller (at most ``callers``, at least one)."""
        count = max(1, min(callers, len(self.tokens)))
        return [self.request(stream=stream, caller=i) for i in range(count)]


def raw_request(method: str, port: int, path: str, token: str, body: Any) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, float, float, bool, bytes]:
    """Send ``raw``; return (status, total s, first body byte s, keep-alive, body)."""
    start = time.perf_counter()
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip().lower()
    first = 0.0
    body = b""
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
        first = time.perf_counter() - start
    elif headers.get(b"transfer-encoding") == b"chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append((await reader.readexactly(size + 2))[:-2])
            if not first:
                first = time.perf_counter() - start
        body = b"".join(parts)
    else:
        body = await reader.read()
        first = time.perf_counter() - start
        return status, time.perf_counter() - start, first, False, body
    keep = headers.get(b"connection") != b"close"
    return status, time.perf_counter() - start, first, keep, body


async def load(
    port: int,
    raw: bytes | list[bytes],
    *,
    connections: int,
    max_requests: int,
    max_seconds: float,
    stream: bool = False,
) -> dict[str, Any]:
    """Run ``connections`` keep-alive loops; stop at a count or a deadline.

    With a list of requests, connection ``i`` sends ``raw[i % len(raw)]``.
    """
    raws = raw if isinstance(raw, list) else [raw]
    latencies: list[float] = []
    firsts: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + max_seconds

    async def loop(raw: bytes) -> None:
        nonlocal errors, sent
        reader = writer = None
        while sent < max_requests and time.perf_counter() < deadline:
            sent += 1
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                status, total, first, keep, body = await asyncio.wait_for(
                    exchange(reader, writer, raw), timeout=30
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if status != 200 or (stream and b"[DONE]" not in body):
                errors += 1
            else:
                latencies.append(total)
                firsts.append(first)
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop(raws[i % len(raws)]) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return {
        "ok": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "ttfb_p50_ms": round(statistics.median(firsts) * 1000, 2) if firsts else None,
    }


WRK = shutil.which("wrk")
WRK_THREADS = 2
WRK_SCRIPT = """
local requests = {%(requests)s}
local count, limit, index = 0, %(limit)d, 0

function init(args)
  index = tonumber(args[1]) or 0
end

function request()
  index = index + 1
  return requests[(index %% #requests) + 1]
end

function response(status, headers, body)
  count = count + 1
  if count >= limit then wrk.thread:stop() end
end
"""


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{byte}" for byte in data) + '"'


def wrk_load(
    port: int,
    raws: list[bytes],
    *,
    connections: int,
    max_requests: int,
    max_seconds: float,
) -> dict[str, Any]:
    """Run ``wrk`` (a C load client): the 32-connection throughput runs.

    The Python client costs more CPU per request than the proxies' own
    work at these rates, on the same two cores; ``wrk`` costs little, as in
    the issue's reference figures. Requests rotate over ``raws`` (one per
    user) request by request. Bounded by time (``-d``) and by count (each
    thread stops after its share of ``max_requests``).
    """
    script = VAR / "wrk.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "requests": ", ".join(_lua_string(raw) for raw in raws),
            "limit": max(1, max_requests // WRK_THREADS),
        }
    )
    out = subprocess.run(
        [
            str(WRK),
            f"-t{WRK_THREADS}",
            f"-c{connections}",
            f"-d{max(1, round(max_seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=max_seconds + 60,
        check=True,
    ).stdout
    total = int(out.split(" requests in ")[0].split()[-1])
    seconds = float(out.split(" requests in ")[1].split("s,")[0])
    bad = 0
    for line in out.splitlines():
        if "Non-2xx or 3xx responses:" in line:
            bad += int(line.split(":")[1])
        if line.strip().startswith("Socket errors:"):
            bad += sum(
                int(part.split()[-1]) for part in line.split(":", 1)[1].split(",")
            )
    ok = total - bad
    p50 = p99 = None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in {"50%", "99%"}:
            value = parts[1]
            ms = float(value.rstrip("mus")) * (
                1000 if value.endswith("s") and not value.endswith(("ms", "us")) else 1
            )
            if value.endswith("us"):
                ms = float(value[:-2]) / 1000
            if parts[0] == "50%":
                p50 = round(ms, 2)
            else:
                p99 = round(ms, 2)
    return {
        "ok": ok,
        "errors": bad,
        "seconds": seconds,
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": p50,
        "p99_ms": p99,
        "client": "wrk",
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def hold_streams(
    port: int, raws: list[bytes], *, count: int, pids: list[int], max_seconds: float
) -> dict[str, Any]:
    """Open ``count`` slow streams at once; report how many were held together."""
    active = 0
    peak_active = 0
    started_ok = 0
    finished_ok = 0
    failed = 0
    peak_rss = 0
    deadline = time.perf_counter() + max_seconds
    gate = asyncio.Semaphore(64)  # pace the connects, not the streams

    async def one(raw: bytes) -> None:
        nonlocal active, peak_active, started_ok, finished_ok, failed
        writer = None
        try:
            async with gate:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if int(head[9:12]) != 200:
                failed += 1
                return
            started_ok += 1
            active += 1
            peak_active = max(peak_active, active)
            body = b""
            while b"[DONE]" not in body and time.perf_counter() < deadline:
                data = await asyncio.wait_for(reader.read(65536), 30)
                if not data:
                    break
                body += data
            active -= 1
            if b"[DONE]" in body:
                finished_ok += 1
            else:
                failed += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            failed += 1
        finally:
            if writer is not None:
                writer.close()

    async def sample() -> None:
        nonlocal peak_rss
        while time.perf_counter() < deadline:
            peak_rss = max(peak_rss, sum(tree_rss(pid) for pid in pids))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(one(raws[i % len(raws)]) for i in range(count)))
    sampler.cancel()
    return {
        "requested": count,
        "started": started_ok,
        "peak_concurrent": peak_active,
        "completed": finished_ok,
        "failed": failed,
        "peak_rss_mb": round(peak_rss / 1024, 1),
    }


# -- processes ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    return found


def tree_rss(pid: int) -> int:
    """Return the summed VmRSS (KiB) of ``pid`` and its descendants."""
    total = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total + sum(tree_rss(child) for child in children(pid))


class Processes:
    """Start child processes in their own groups; stop them all at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(
        self, name: str, argv: list[str], env: dict[str, str]
    ) -> subprocess.Popen:
        log = open(VAR / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def wait_http(port: int, path: str, seconds: float) -> None:
    """Wait until ``GET path`` answers (any status) or fail after ``seconds``."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                if sock.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"nothing answered on port {port} within {seconds}s")


# -- Quire setup --------------------------------------------------------------------


def quire_env(upstream_port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AI_", "DJANGO_", "DATABASE_", "QUIRE_", "GUNICORN_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.local",
            "DATABASE_URL": f"{PG_URL}/{DATABASE}",
            "QUIRE_VAR_DIR": str(VAR / "quire"),
            "AI_PROVIDERS": "bench",
            "AI_BENCH_KIND": "openai",
            "AI_BENCH_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
            "AI_BENCH_API_KEY": "sk-bench-" + secrets.token_hex(16),
            "AI_BENCH_READ_TIMEOUT": "60",
            "AI_TOKENS_PER_MONTH": str(10**12),
            "AI_REQUESTS_PER_MINUTE": str(10**9),
            "AI_DEFAULT_MODEL": "bench-model",
            "LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "2",
        }
    )
    return env


SETUP_SCRIPT = """
import json, sys
from accounts import local_issuer
from accounts.services import user_provision_local
from aiproxy.models import AIModel
for name, upstream in [("bench-model", "bench-fast"), ("bench-slow", "bench-slow")]:
    AIModel.objects.update_or_create(
        name=name,
        defaults={"provider": "bench", "upstream_model": upstream, "is_enabled": True,
                  "context_limit": 8192, "max_output_tokens": 4096},
    )
tokens = []
for i in range(%(users)d):
    user = user_provision_local(email=f"bench{i}@example.com")
    tokens.append(local_issuer.issue_token(
        sub=user.sub, email=user.email, use="access", groups=[], ttl=86400))
sys.stdout.write("TOKENS " + json.dumps(tokens) + "\\n")
"""


def setup_quire(env: dict[str, str], users: int) -> list[str]:
    """Create the database, models and ``users`` users; return their tokens."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    manage = [str(APP_PYTHON), "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [*manage, "shell", "-c", SETUP_SCRIPT % {"users": users}],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("TOKENS ")]
    if not lines:
        raise RuntimeError("the setup script printed no tokens")
    return json.loads(lines[-1][len("TOKENS ") :])


def start_gunicorn(
    procs: Processes, env: dict[str, str], port: int, serve: str, worker: str = ""
) -> subprocess.Popen:
    env = {**env, "QUIRE_SERVE": serve, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    if worker:
        env["GUNICORN_WORKER_CLASS"] = worker
    name = f"gunicorn-{serve}-{worker or 'default'}"
    proc = procs.start(
        name, [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py"], env
    )
    wait_http(port, "/healthz", 60)
    return proc


def start_litellm(procs: Processes, upstream_port: int, port: int) -> subprocess.Popen:
    master_key = "sk-" + secrets.token_hex(24)
    config = VAR / "litellm.yaml"
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": name,
                        "litellm_params": {
                            "model": f"openai/{upstream}",
                            "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                            "api_key": "sk-bench-upstream",
                        },
                    }
                    for name, upstream in [
                        ("bench-model", "bench-fast"),
                        ("bench-slow", "bench-slow"),
                    ]
                ],
                "general_settings": {"master_key": master_key},
                "litellm_settings": {"telemetry": False, "drop_params": True},
            }
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AI_")},
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MASTER_KEY": master_key,
        "NO_DOCS": "True",
    }
    proc = procs.start(
        "litellm",
        [
            str(LITELLM),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "2",
            # Its uvicorn multi-worker mode lost every child at start-up here;
            # gunicorn with uvicorn workers is also what Quire runs.
            "--run_gunicorn",
        ],
        env,
    )
    wait_http(port, "/health/liveliness", 180)
    proc.master_key = master_key  # type: ignore[attr-defined]
    return proc


# -- the run ---------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
    return {
        "nproc": subprocess.run(
            ["nproc"], capture_output=True, text=True
        ).stdout.strip(),
        "cpu": cpu,
        "free_h": free.strip(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


async def throughput_load(
    port: int, raws: list[bytes], sizes: dict[str, Any], *, client: str
) -> dict[str, Any]:
    """Run the 32-connection throughput load with ``client`` (wrk or python)."""
    if client == "wrk":
        return wrk_load(
            port,
            raws,
            connections=32,
            max_requests=sizes["rps_n"],
            max_seconds=sizes["rps_s"],
        )
    result = await load(
        port,
        raws,
        connections=32,
        max_requests=sizes["rps_n"],
        max_seconds=sizes["rps_s"],
    )
    return {**result, "client": "python"}


async def measure_target(
    target: Target,
    sizes: dict[str, Any],
    *,
    one_user: bool = False,
    client: str = "python",
) -> dict[str, Any]:
    """Warm up, then latency at 1 connection, stream TTFB, throughput at 32.

    The 32 connections are spread over the target's callers (one user each);
    with ``one_user`` the same 32 connections are also run as a single user.
    Latency and time to first byte are always measured by the Python client
    (for the floor too); throughput by ``client``.
    """
    plain = target.request(stream=False)
    streamed = target.request(stream=True)
    spread = target.requests(stream=False, callers=32)
    await load(target.port, spread, connections=4, max_requests=200, max_seconds=5)
    latency = await load(
        target.port,
        plain,
        connections=1,
        max_requests=sizes["latency_n"],
        max_seconds=sizes["latency_s"],
    )
    stream = await load(
        target.port,
        streamed,
        connections=1,
        max_requests=sizes["stream_n"],
        max_seconds=sizes["stream_s"],
        stream=True,
    )
    throughput = await throughput_load(target.port, spread, sizes, client=client)
    throughput["callers"] = len(spread)
    result = {"latency_1c": latency, "stream_1c": stream, "throughput_32c": throughput}
    if one_user and len(spread) > 1:
        result["throughput_32c_one_user"] = await throughput_load(
            target.port, [plain], sizes, client=client
        )
    return result


async def bare_json(port: int, sizes: dict[str, Any], *, client: str) -> dict[str, Any]:
    raw = raw_request("GET", port, "/healthz", "", None)
    await load(port, raw, connections=4, max_requests=300, max_seconds=3)
    return await throughput_load(port, [raw], sizes, client=client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "upstream"]
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument(
        "--quire-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for Quire's server (repeatable), e.g. "
        "AI_DB_THREADS=4 to compare a setting's two values",
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load client of the 32-connection throughput runs "
        "(auto: wrk when installed, else the Python client)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=64,
        help="Quire users (own token, own quota row) spread over the connections",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated phases to skip while iterating: "
        "one-user, held, bare (and --no-litellm)",
    )
    args = parser.parse_args()
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    unknown = skip - {"one-user", "held", "bare"}
    if unknown:
        parser.error(f"unknown phases to skip: {', '.join(sorted(unknown))}")
    if args.command == "upstream":
        run_upstream(args.port)
        return
    VAR.mkdir(parents=True, exist_ok=True)
    client = args.client
    if client == "auto":
        client = "wrk" if WRK else "python"
    if client == "wrk" and not WRK:
        parser.error("wrk is not installed (apt-get install wrk)")
    sizes = {
        "latency_n": 150 if args.quick else 400,
        "latency_s": 10 if args.quick else 20,
        "stream_n": 60 if args.quick else 200,
        "stream_s": 10 if args.quick else 20,
        "rps_n": 20_000 if args.quick else 60_000,
        "rps_s": 5 if args.quick else 10,
    }
    import uvloop

    procs = Processes()
    results: dict[str, Any] = {
        "machine": machine(),
        "sizes": sizes,
        "throughput_client": client,
    }
    try:
        upstream_port = free_port()
        procs.start(
            "upstream",
            [
                str(APP_PYTHON),
                str(Path(__file__)),
                "upstream",
                "--port",
                str(upstream_port),
            ],
            dict(os.environ),
        )
        wait_http(upstream_port, "/v1/models", 30)
        env = quire_env(upstream_port)
        for pair in args.quire_env:
            name, _, value = pair.partition("=")
            env[name] = value
        results["quire_env"] = args.quire_env
        tokens = setup_quire(env, max(1, args.users))
        results["quire_users"] = len(tokens)

        targets = [
            Target("direct", upstream_port, "/v1/chat/completions", "bench-fast", [""])
        ]
        quire_port = free_port()
        quire = start_gunicorn(procs, env, quire_port, "ai")
        targets.append(
            Target(
                "quire",
                quire_port,
                "/api/v1/ai/chat/completions",
                "bench-model",
                tokens,
            )
        )
        litellm = None
        if not args.no_litellm and LITELLM.exists():
            litellm_port = free_port()
            litellm = start_litellm(procs, upstream_port, litellm_port)
            targets.append(
                Target(
                    "litellm",
                    litellm_port,
                    "/v1/chat/completions",
                    "bench-model",
                    [litellm.master_key],
                )
            )
        for target in targets:
            print(f"measuring {target.name}", flush=True)
            results[target.name] = uvloop.run(
                measure_target(
                    target,
                    sizes,
                    one_user=target.name == "quire" and "one-user" not in skip,
                    client=client,
                )
            )
            print(json.dumps(results[target.name]), flush=True)

        held = {}
        for target, proc in [("quire", quire), ("litellm", litellm)]:
            if proc is None or "held" in skip:
                continue
            spec = next(t for t in targets if t.name == target)
            print(f"holding {args.streams} streams on {target}", flush=True)
            held[target] = uvloop.run(
                hold_streams(
                    spec.port,
                    [
                        spec.request(stream=True, model="bench-slow", caller=i)
                        for i in range(len(spec.tokens))
                    ],
                    count=args.streams,
                    pids=[proc.pid],
                    max_seconds=SLOW_CHUNKS + 40,
                )
            )
            held[target]["idle_rss_mb"] = round(tree_rss(proc.pid) / 1024, 1)
            print(json.dumps(held[target]), flush=True)
        results["held_streams"] = held
        procs.stop(quire)
        if litellm is not None:
            procs.stop(litellm)

        bare = {}
        bare_servers = [
            ("gthread (QUIRE_SERVE=api)", "api", ""),
            ("sync", "api", "sync"),
            ("uvicorn (QUIRE_SERVE=ai)", "ai", ""),
        ]
        for label, serve, worker in [] if "bare" in skip else bare_servers:
            port = free_port()
            proc = start_gunicorn(procs, env, port, serve, worker)
            print(f"bare JSON view on {label}", flush=True)
            bare[label] = uvloop.run(bare_json(port, sizes, client=client))
            print(json.dumps(bare[label]), flush=True)
            procs.stop(proc)
        results["bare_json"] = bare
    finally:
        procs.stop_all()
    (VAR / "aiproxy.json").write_text(json.dumps(results, indent=2))
    print(report(results))


def report(results: dict[str, Any]) -> str:
    """Return the figures as Markdown tables with ratios to the floor."""
    lines = []
    names = [n for n in ("direct", "quire", "litellm") if n in results]
    direct = results["direct"]
    lines.append("| | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row(
        f"non-stream req/s, 32 connections ({results.get('throughput_client', 'python')})",
        [str(results[n]["throughput_32c"]["rps"]) for n in names],
    )
    row(
        "errors during the 32-connection run",
        [str(results[n]["throughput_32c"]["errors"]) for n in names],
    )
    row(
        "p50 latency, 1 connection (ms)",
        [str(results[n]["latency_1c"]["p50_ms"]) for n in names],
    )
    row(
        "p50 added to the floor (ms)",
        [
            f"{results[n]['latency_1c']['p50_ms'] - direct['latency_1c']['p50_ms']:+.2f}"
            for n in names
        ],
    )
    row(
        "stream time to first byte p50 (ms)",
        [str(results[n]["stream_1c"]["ttfb_p50_ms"]) for n in names],
    )
    row(
        "stream TTFB added to the floor (ms)",
        [
            f"{results[n]['stream_1c']['ttfb_p50_ms'] - direct['stream_1c']['ttfb_p50_ms']:+.2f}"
            for n in names
        ],
    )
    one_user = (results.get("quire") or {}).get("throughput_32c_one_user")
    if one_user:
        lines.append(
            f"\nQuire, the same 32 connections as ONE user (one quota row): "
            f"{one_user['rps']} req/s, {one_user['errors']} errors "
            f"(above: {results['quire']['throughput_32c'].get('callers')} users)."
        )
    if "quire" in results and "litellm" in results:
        ratio = results["quire"]["throughput_32c"]["rps"] / max(
            results["litellm"]["throughput_32c"]["rps"], 0.1
        )
        lines.append(f"\nThroughput Quire / LiteLLM: **{ratio:.1f}×**")
    held = results.get("held_streams") or {}
    if held:
        lines.append("\n| slow streams (20 s each) | " + " | ".join(held) + " |")
        lines.append("|---" * (len(held) + 1) + "|")
        for key in (
            "requested",
            "peak_concurrent",
            "completed",
            "failed",
            "peak_rss_mb",
            "idle_rss_mb",
        ):
            lines.append(
                f"| {key} | " + " | ".join(str(v[key]) for v in held.values()) + " |"
            )
    bare = results.get("bare_json") or {}
    if bare:
        lines.append(
            "\n| `/healthz`, 2 workers, 32 connections | req/s | p50 ms | errors |"
        )
        lines.append("|---|---|---|---|")
        for label, value in bare.items():
            lines.append(
                f"| {label} | {value['rps']} | {value['p50_ms']} | {value['errors']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
