"""The version of Quire (``pyproject.toml`` holds the same; a test compares)."""

VERSION = "0.1.0"
