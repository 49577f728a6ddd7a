"""Keys generated at run time under var/ for the embedded (laptop) defaults."""

import secrets
from pathlib import Path


def local_secret_key(var_dir: Path) -> str:
    """Return the laptop's Django secret key, creating it under var/ once."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()
