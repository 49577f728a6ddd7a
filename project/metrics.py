"""Metrics as CloudWatch Embedded Metric Format (EMF) records on stdout.

A record is one JSON line that CloudWatch Logs turns into metrics on its own
(no agent, no PutMetricData call on the request path): Fargate's awslogs
driver ships stdout to CloudWatch Logs, which extracts the values named in
``_aws.CloudWatchMetrics``. See
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

Call :func:`record` from services; ``METRICS_ENABLED=false`` turns it off
(laptop runs), ``METRICS_NAMESPACE`` names the CloudWatch namespace.
"""

import json
import sys
import threading
import time
from typing import Any

from django.conf import settings

# The units CloudWatch accepts; anything else is sent as "None".
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
# EMF allows at most 30 dimensions per set and 100 metrics per record.
MAX_DIMENSIONS = 30
_write_lock = threading.Lock()


def is_enabled() -> bool:
    """Return whether metrics are written (``METRICS_ENABLED``)."""
    return bool(getattr(settings, "METRICS_ENABLED", False))


def record(
    name: str,
    value: float,
    *,
    unit: str = "None",
    dimensions: dict[str, str] | None = None,
    properties: dict[str, Any] | None = None,
) -> None:
    """Record one metric value with optional dimensions.

    ``dimensions`` become CloudWatch dimensions (keep their values few:
    routes, models, status classes, never ids); ``properties`` are searchable
    in Logs Insights but are not dimensions (ids, request ids).
    """
    record_many({name: (value, unit)}, dimensions=dimensions, properties=properties)


def record_many(
    values: dict[str, tuple[float, str]],
    *,
    dimensions: dict[str, str] | None = None,
    properties: dict[str, Any] | None = None,
) -> None:
    """Record several metrics sharing one set of dimensions as one EMF line."""
    if not is_enabled() or not values:
        return
    dimensions = {str(k): str(v) for k, v in (dimensions or {}).items()}
    if len(dimensions) > MAX_DIMENSIONS:
        raise ValueError("EMF allows at most 30 dimensions")
    document: dict[str, Any] = {}
    for key, item in (properties or {}).items():
        document[str(key)] = item
    document.update(dimensions)
    for name, (value, _unit) in values.items():
        document[name] = value
    document["_aws"] = {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": getattr(settings, "METRICS_NAMESPACE", "Quire"),
                "Dimensions": [list(dimensions)],
                "Metrics": [
                    {"Name": name, "Unit": unit if unit in UNITS else "None"}
                    for name, (_value, unit) in values.items()
                ],
            }
        ],
    }
    line = json.dumps(document, default=str, separators=(",", ":")) + "\n"
    # One write per record under a lock: lines from threads never interleave.
    with _write_lock:
        sys.stdout.write(line)
        sys.stdout.flush()
