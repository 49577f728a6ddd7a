"""Logging, metrics and health-check settings, imported by base.py.

Not a ``DJANGO_SETTINGS_MODULE`` of its own; test.py and production.py
rebuild ``LOGGING`` with their own ``LOG_FORMAT`` default.
"""

from project.logging import logging_config
from project.settings.environment import env

# --- Logging, metrics, health (runtime) -----------------------------------------
# One line per record on stdout (project/logging.py): JSON, or readable lines
# at a terminal. LOG_FORMAT: auto (console at a terminal, else JSON), json,
# console.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="auto")
LOGGING_CONFIG = "project.logging.configure"
LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)
# CloudWatch Embedded Metric Format records on stdout; see project/metrics.py.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_NAMESPACE = env.str("METRICS_NAMESPACE", default="Quire")
# Seconds /readyz waits for each dependency before answering 503.
READYZ_TIMEOUT = env.float("READYZ_TIMEOUT", default=2.0)
