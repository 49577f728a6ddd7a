"""A/B: client CPU per upstream call, the aiohttp client against the one it replaced.

One process measures, one uvicorn process (``bench/aiproxy.py``'s fast fake
upstream, plain HTTP and TLS with a CA made here) answers, both on loopback.
Clients, each making ``--calls`` sequential calls per round (a complete
answer, then a streamed one), rounds alternated; the CPU per call of the
client's process and of the upstream's (``/proc``) are both reported:

- ``quire``: ``aiproxy.adapters.upstream.UpstreamClient`` as the adapters
  use it (one exchange per connection);
- ``lean``: the hand-written HTTP/1.1 transport it replaced, loaded from
  git (``--old-rev``, plain HTTP only: it has no CA setting);
- ``aiohttp-pooled`` / ``httpx-pooled``: the same libraries with keep-alive
  pooling, for reference (both can hand one exchange's bytes to the next;
  see ``aiproxy/adapters/upstream.py``).

Also: the CPU time of splitting one long event line fed in 64 KiB chunks
(4 and 16 MiB), the old transport's ``aiter_lines`` against
``aiproxy.adapters.sse.SSEDecoder`` (linear: x4 the bytes, x4 the time).

Usage::

    .venv/bin/python bench/upstream_client.py            # ~1 min
    .venv/bin/python bench/upstream_client.py --calls 500 --rounds 1
"""

import argparse
import asyncio
import datetime
import importlib.util
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.test")

BODY = json.dumps(
    {"model": "bench-fast", "messages": [{"role": "user", "content": "hi"}]}
).encode()
STREAM_BODY = json.dumps(
    {
        "model": "bench-fast",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
).encode()
KEY = {"Authorization": "Bearer sk-bench"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """Write a CA, and a 127.0.0.1 certificate it signed; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    span = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(hours=2))

    def cert(subject: str, key: Any, issuer: Any, signer: Any, ca: bool) -> Any:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(span[0])
            .not_valid_after(span[1])
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        )
        if not ca:
            ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            builder = builder.add_extension(x509.SubjectAlternativeName([ip]), False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("bench CA", ca_key, None, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("127.0.0.1", key, ca.subject, ca_key, False)
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def serve(port: int, certfile: str, keyfile: str) -> None:
    """Run the fake upstream (``bench/aiproxy.py``) on ``port``, TLS if given."""
    import uvicorn

    sys.path.insert(0, str(ROOT / "bench"))
    from aiproxy import upstream_app  # bench/aiproxy.py

    uvicorn.run(
        upstream_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        ssl_certfile=certfile or None,
        ssl_keyfile=keyfile or None,
    )


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"upstream on {port} did not start")


def load_old_transport(rev: str) -> Any:
    """Import ``aiproxy/adapters/transport.py`` as it was at ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:aiproxy/adapters/transport.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_transport.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("old_transport", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the clients, each with one "complete" and one "stream" call ------------------


def quire_client(base: str, ca: str) -> Any:
    from aiproxy.adapters.upstream import UpstreamClient

    client = UpstreamClient(
        provider="bench",
        base_url=base,
        headers={"Accept": "application/json"},
        connect_timeout=5,
        read_timeout=5,
        total_timeout=30,
        max_connections=100,
        ca_bundle=ca,
    )

    async def call(stream: bool) -> None:
        response = await client.post(
            "chat/completions", body=STREAM_BODY if stream else BODY, headers=KEY
        )
        if stream:
            async with response:
                async for _event in response.events():
                    pass
        else:
            await response.read()

    return call, client.aclose


def lean_client(base: str, old: Any) -> Any:
    import httpx

    client = old.LeanClient(
        base,
        timeout=httpx.Timeout(5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"Accept": "application/json"},
    )

    async def call(stream: bool) -> None:
        response = await client.post(
            "chat/completions", body=STREAM_BODY if stream else BODY, headers=KEY
        )
        if stream:
            async with response:
                async for _line in response.aiter_lines():
                    pass
        else:
            await response.aread()

    return call, client.aclose


def aiohttp_pooled(base: str, ca: str) -> Any:
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=ca) if ca else True
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    url = base.rstrip("/") + "/chat/completions"
    headers = {**KEY, "Content-Type": "application/json"}

    async def call(stream: bool) -> None:
        data = STREAM_BODY if stream else BODY
        async with session.post(url, data=data, headers=headers) as response:
            async for _chunk in response.content.iter_any():
                pass

    return call, session.close


def httpx_pooled(base: str, ca: str) -> Any:
    import ssl

    import httpx

    verify = ssl.create_default_context(cafile=ca) if ca else True
    client = httpx.AsyncClient(verify=verify, timeout=5.0)
    url = httpx.URL(base.rstrip("/") + "/chat/completions")
    headers = {**KEY, "Content-Type": "application/json"}

    async def call(stream: bool) -> None:
        data = STREAM_BODY if stream else BODY
        async with client.stream("POST", url, content=data, headers=headers) as r:
            async for _chunk in r.aiter_bytes():
                pass

    return call, client.aclose


def process_cpu(pid: int) -> float:
    """Return the CPU seconds process ``pid`` has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(make: Any, calls: int, server: int) -> dict[str, float]:
    """Return the client's CPU ms per call, complete and stream, and the server's."""
    call, close = make()
    try:
        for _ in range(50):
            await call(False)
        figures = {}
        for stream in (False, True):
            started, served = time.process_time(), process_cpu(server)
            for _ in range(calls):
                await call(stream)
            cpu = (time.process_time() - started) / calls * 1000
            name = "stream" if stream else "complete"
            figures[name] = round(cpu, 3)
            figures[name + " upstream"] = round(
                (process_cpu(server) - served) / calls * 1000, 3
            )
        return figures
    finally:
        await close()


def split_cpu(split: Any, size: int) -> float:
    """Return the CPU seconds ``split`` takes over one ``size``-byte line."""
    piece = b"x" * 65536
    chunks = [b"data: "] + [piece] * (size // len(piece)) + [b"\n\n"]
    started = time.process_time()
    split(chunks)
    return round(time.process_time() - started, 3)


def sse_figures(old: Any) -> dict[str, dict[str, float]]:
    from aiproxy.adapters.sse import SSEDecoder

    def new_split(chunks: list[bytes]) -> None:
        decoder = SSEDecoder(max_line_bytes=1 << 30)
        for chunk in chunks:
            decoder.feed(chunk)

    def old_split(chunks: list[bytes]) -> None:
        class Parts(old.httpx.AsyncByteStream):
            async def __aiter__(self) -> Any:
                for chunk in chunks:
                    yield chunk

        async def run() -> None:
            async for _line in old.UpstreamResponse(200, [], Parts()).aiter_lines():
                pass

        asyncio.run(run())

    sizes = {"4 MiB": 4 << 20, "16 MiB": 16 << 20}
    return {
        "lean aiter_lines": {k: split_cpu(old_split, v) for k, v in sizes.items()},
        "SSEDecoder": {k: split_cpu(new_split, v) for k, v in sizes.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", default="")
    parser.add_argument("--key", default="")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old-rev", default="407999a")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.cert, args.key)
        return

    import django

    import uvloop

    django.setup()
    old = load_old_transport(args.old_rev)
    folder = Path(tempfile.mkdtemp())
    ca, cert, key = make_ca(folder)
    ports = {"http": free_port(), "https": free_port()}
    me = [sys.executable, __file__, "serve"]
    servers = [
        subprocess.Popen([*me, "--port", str(ports["http"])]),
        subprocess.Popen(
            [*me, "--port", str(ports["https"]), "--cert", str(cert), "--key", str(key)]
        ),
    ]
    results: dict[str, Any] = {}
    try:
        for port in ports.values():
            wait_port(port)
        plain = f"http://127.0.0.1:{ports['http']}/v1"
        tls = f"https://127.0.0.1:{ports['https']}/v1"
        clients = {
            "http quire": lambda: quire_client(plain, ""),
            "http lean (old)": lambda: lean_client(plain, old),
            "http aiohttp-pooled": lambda: aiohttp_pooled(plain, ""),
            "http httpx-pooled": lambda: httpx_pooled(plain, ""),
            "https quire": lambda: quire_client(tls, str(ca)),
            "https aiohttp-pooled": lambda: aiohttp_pooled(tls, str(ca)),
            "https httpx-pooled": lambda: httpx_pooled(tls, str(ca)),
        }
        for round_ in range(args.rounds):
            for name, make in clients.items():
                server = servers[0 if name.startswith("http ") else 1].pid
                figures = uvloop.run(measure(make, args.calls, server))
                results.setdefault(name, []).append(figures)
                print(f"round {round_ + 1} {name:22s} {figures}", flush=True)
        results["sse split CPU s"] = sse_figures(old)
        print(json.dumps(results["sse split CPU s"]), flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
    out = ROOT / "bench" / "var" / "upstream_client.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
