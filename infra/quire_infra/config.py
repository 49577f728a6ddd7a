"""Stage configuration: CDK context merged over per-stage defaults.

Every knob a deployer may turn lives here, with dev's cheap defaults and prod's
safe ones. Context values (``cdk.json`` or ``-c key=value``) override them; a
stage block in the ``stages`` context overrides both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

STAGES = ("dev", "prod")

# Per-stage defaults. Keys are the context names documented in infra/README.md.
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "natGateways": 0,
        "taskSubnets": "public",
        "cpuArchitecture": "arm64",
        "apiCpu": 256,
        "apiMemory": 512,
        "apiMinTasks": 1,
        "apiMaxTasks": 2,
        "aiCpu": 256,
        "aiMemory": 512,
        "aiMinTasks": 1,
        "aiMaxTasks": 2,
        "dbInstanceType": "t4g.micro",
        "dbAllocatedStorageGb": 20,
        "dbMaxAllocatedStorageGb": 50,
        "dbMultiAz": False,
        "dbBackupRetentionDays": 1,
        "dbDeletionProtection": False,
        "logRetentionDays": 14,
        "noncurrentVersionExpirationDays": 7,
        "containerInsights": False,
        "waf": False,
        "aiMonthlyBudgetUsd": 20,
        "aiHourlyTokensAlarm": 200_000,
        "flowLogs": False,
        "accessLogRetentionDays": 30,
        "dbConnectionsAlarm": 60,
        "dbFreeableMemoryAlarmMb": 128,
    },
    "prod": {
        # One NAT per AZ: losing an AZ does not cut the other's tasks off.
        "natGateways": 2,
        "taskSubnets": "private",
        "cpuArchitecture": "arm64",
        "apiCpu": 512,
        "apiMemory": 1024,
        "apiMinTasks": 2,
        "apiMaxTasks": 6,
        "aiCpu": 256,
        "aiMemory": 512,
        "aiMinTasks": 1,
        "aiMaxTasks": 4,
        "dbInstanceType": "t4g.small",
        "dbAllocatedStorageGb": 20,
        "dbMaxAllocatedStorageGb": 200,
        "dbMultiAz": True,
        "dbBackupRetentionDays": 14,
        "dbDeletionProtection": True,
        "logRetentionDays": 90,
        "noncurrentVersionExpirationDays": 30,
        "containerInsights": True,
        "waf": True,
        "aiMonthlyBudgetUsd": 100,
        "aiHourlyTokensAlarm": 2_000_000,
        "flowLogs": True,
        "accessLogRetentionDays": 365,
        "dbConnectionsAlarm": 150,
        "dbFreeableMemoryAlarmMb": 256,
    },
}

# Context keys shared by both stages, with their defaults.
COMMON_DEFAULTS: dict[str, Any] = {
    "account": None,
    "region": None,
    "imageTag": "latest",
    "domainName": None,
    "originDomainName": None,
    "hostedZoneId": None,
    "hostedZoneName": None,
    "certificateArn": None,
    "cloudFrontCertificateArn": None,
    "cloudFrontPublicKeyPem": None,
    "downloadPathPattern": "/attachments/*",
    "webOrigins": [],
    "senderDomain": None,
    "senderAddress": None,
    "webCallbackUrls": [],
    "webSignOutUrls": [],
    "alarmEmail": None,
    "secretsInjection": "arn",
    "metricsNamespace": None,
    "aiProviders": ["openai", "anthropic"],
    "cloudFrontPrivateKeySecretArn": None,
    "aiTokensMetricName": "AITokens",
    "aiCostMetricName": "AICostUSD",
    "albIdleTimeoutSeconds": 120,
    "apiCpuTarget": 60,
    "apiRequestsPerTarget": 400,
    "aiCpuTarget": 60,
    "aiRequestsPerTarget": 100,
    "p99LatencySeconds": 2.0,
    "fiveXxRatePercent": 5.0,
    "dbFreeStorageAlarmGb": 2,
    "wafRateLimit": 2000,
    "apiThrottleRateLimit": 200,
    "apiThrottleBurstLimit": 400,
    "aiStreamTimeoutSeconds": 600,
    "documentsMaxBodyBytes": 1_048_576,
    "aiMaxBodyBytes": 524_288,
    "dbRotationDays": 30,
    "taskMemoryAlarmPercent": 85.0,
    "maintenanceSchedules": {},
    "enableExecuteCommand": False,
    "paused": False,
    "cognitoDomainPrefix": None,
}


# The maintenance commands (``manage.py <name>``) the scheduler runs on the
# migrate task definition, with their default EventBridge Scheduler
# expressions (UTC). ``maintenanceSchedules`` overrides an expression by name.
MAINTENANCE_COMMANDS: dict[str, list[str]] = {
    "cleanup_attachments": ["python", "manage.py", "cleanup_attachments"],
    "purge_trash": ["python", "manage.py", "purge_trash", "--older-than", "30d"],
    "ai_release_stale": ["python", "manage.py", "ai_release_stale"],
    "purge_idempotency_keys": ["python", "manage.py", "purge_idempotency_keys"],
    "purge_throttle_buckets": ["python", "manage.py", "purge_throttle_buckets"],
    "purge_account_tombstones": ["python", "manage.py", "purge_account_tombstones"],
}
# Commands under */management/commands that are not maintenance (a test keeps
# the two lists and the files on disk in step).
NOT_MAINTENANCE = {"dev_bootstrap", "issue_dev_token", "db_app_role"}
DEFAULT_SCHEDULES: dict[str, str] = {
    "cleanup_attachments": "rate(1 hour)",
    # AI_STALE_RESERVATION_SECONDS is 15 minutes: a reservation is held at
    # most about twice that.
    "ai_release_stale": "rate(15 minutes)",
    "purge_trash": "cron(15 3 * * ? *)",
    "purge_idempotency_keys": "cron(30 3 * * ? *)",
    "purge_throttle_buckets": "cron(45 3 * * ? *)",
    "purge_account_tombstones": "cron(0 4 * * ? *)",
}
_SCHEDULE = re.compile(
    r"rate\((1 (minute|hour|day)|[1-9]\d* (minutes|hours|days))\)|cron\([^()]+\)"
)


class ConfigError(ValueError):
    """Raised when the context describes a deployment that cannot work."""


@dataclass(frozen=True)
class StageConfig:
    """Everything the stacks need to know about one stage."""

    stage: str
    account: str | None
    region: str | None
    image_tag: str
    domain_name: str
    origin_domain_name: str
    hosted_zone_id: str | None
    hosted_zone_name: str | None
    certificate_arn: str | None
    cloudfront_certificate_arn: str | None
    cloudfront_public_key_pem: str | None
    download_path_pattern: str
    web_origins: list[str]
    sender_domain: str
    sender_address: str
    web_callback_urls: list[str]
    web_sign_out_urls: list[str]
    alarm_email: str | None
    secrets_injection: str
    metrics_namespace: str
    ai_providers: list[str]
    cloudfront_private_key_secret_arn: str | None
    ai_tokens_metric_name: str
    ai_cost_metric_name: str
    alb_idle_timeout_seconds: int
    nat_gateways: int
    task_subnets: str
    cpu_architecture: str
    api_cpu: int
    api_memory: int
    api_min_tasks: int
    api_max_tasks: int
    ai_cpu: int
    ai_memory: int
    ai_min_tasks: int
    ai_max_tasks: int
    api_cpu_target: int
    api_requests_per_target: int
    ai_cpu_target: int
    ai_requests_per_target: int
    db_instance_type: str
    db_allocated_storage_gb: int
    db_max_allocated_storage_gb: int
    db_multi_az: bool
    db_backup_retention_days: int
    db_deletion_protection: bool
    log_retention_days: int
    noncurrent_version_expiration_days: int
    container_insights: bool
    waf: bool
    waf_rate_limit: int
    api_throttle_rate_limit: int
    api_throttle_burst_limit: int
    ai_stream_timeout_seconds: int
    documents_max_body_bytes: int
    ai_max_body_bytes: int
    db_rotation_days: int
    maintenance_schedules: dict[str, str]
    flow_logs: bool
    access_log_retention_days: int
    db_connections_alarm: int
    db_freeable_memory_alarm_mb: int
    task_memory_alarm_percent: float
    ai_monthly_budget_usd: float
    ai_hourly_tokens_alarm: int
    p99_latency_seconds: float
    five_xx_rate_percent: float
    db_free_storage_alarm_gb: float
    enable_execute_command: bool
    paused: bool
    cognito_domain_prefix: str | None

    @property
    def is_prod(self) -> bool:
        """Say whether this stage gets production's safety defaults."""
        return self.stage == "prod"

    @property
    def prefix(self) -> str:
        """Return the name prefix for this stage's resources, e.g. ``quire-dev``."""
        return f"quire-{self.stage}"


def _camel_to_snake(name: str) -> str:
    name = name.replace("cloudFront", "cloudfront")
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _coerce(value: Any, default: Any) -> Any:
    """Turn ``-c key=value`` strings into the type of the default."""
    if not isinstance(value, str):
        return value
    if isinstance(default, bool):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"expected true/false, got {value!r}")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, dict):
        return json.loads(value)
    if isinstance(default, list):
        value = value.strip()
        if value.startswith("["):
            return json.loads(value)
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def load_config(get_context: Any, stage: str | None = None) -> StageConfig:
    """Build the config of ``stage`` from a ``node.try_get_context``-like callable."""
    stage = stage or get_context("stage") or "dev"
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {STAGES}")
    defaults = {**COMMON_DEFAULTS, **DEFAULTS[stage]}
    stage_overrides = (get_context("stages") or {}).get(stage, {})
    values: dict[str, Any] = {}
    for key, default in defaults.items():
        value = stage_overrides.get(key, get_context(key))
        values[key] = default if value is None else _coerce(value, default)
    names = {f.name for f in fields(StageConfig)}
    kwargs = {_camel_to_snake(k): v for k, v in values.items()}
    unknown = set(kwargs) - names
    if unknown:  # pragma: no cover - a programming error in DEFAULTS
        raise ConfigError(f"config keys without a field: {sorted(unknown)}")
    _validate(stage, kwargs)
    return StageConfig(stage=stage, **kwargs)


def _validate(stage: str, values: dict[str, Any]) -> None:
    """Refuse combinations that would synthesize but not work."""
    if not values["region"]:
        raise ConfigError(
            "region is required: the CloudFront web ACL and alarms live in "
            "us-east-1 and reference this region's stacks"
        )
    if not values["domain_name"]:
        raise ConfigError(
            "domainName is required (the public name CloudFront answers on)"
        )
    if not values["origin_domain_name"]:
        values["origin_domain_name"] = f"origin.{values['domain_name']}"
    if not values["metrics_namespace"]:
        values["metrics_namespace"] = f"Quire/{stage}"
    if bool(values["cloudfront_public_key_pem"]) != bool(
        values["cloudfront_private_key_secret_arn"]
    ):
        raise ConfigError(
            "signed CloudFront downloads need both cloudFrontPublicKeyPem and "
            "cloudFrontPrivateKeySecretArn (the secret holding the private key PEM)"
        )
    prefix = values["cognito_domain_prefix"]
    if prefix:
        if not values["cloudfront_certificate_arn"]:
            raise ConfigError(
                "cognitoDomainPrefix (staff sign-in) needs cloudFrontCertificateArn: "
                "the callback URL is on domainName"
            )
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", prefix) or any(
            word in prefix for word in ("aws", "amazon", "cognito")
        ):
            raise ConfigError(f"cognitoDomainPrefix {prefix!r} is not a valid prefix")
    for name in values["ai_providers"]:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"aiProviders: {name!r} is not a provider name")
    if not values["sender_domain"]:
        values["sender_domain"] = values["domain_name"]
    if not values["sender_address"]:
        values["sender_address"] = f"no-reply@{values['sender_domain']}"
    if not values["sender_address"].endswith("@" + values["sender_domain"]):
        raise ConfigError("senderAddress must be an address at senderDomain")
    public = f"https://{values['domain_name']}"
    values["web_callback_urls"] = values["web_callback_urls"] or [
        f"{public}/auth/callback"
    ]
    values["web_sign_out_urls"] = values["web_sign_out_urls"] or [f"{public}/"]
    for url in values["web_callback_urls"] + values["web_sign_out_urls"]:
        if not re.fullmatch(r"https://[^\s#]+|http://localhost(:\d+)?(/[^\s#]*)?", url):
            raise ConfigError(
                f"{url!r}: callback and sign-out URLs must be https:// "
                "(or http://localhost for development)"
            )
    schedules = dict(DEFAULT_SCHEDULES)
    for name, expression in (values["maintenance_schedules"] or {}).items():
        if name not in MAINTENANCE_COMMANDS:
            raise ConfigError(f"maintenanceSchedules: no command {name!r}")
        if not _SCHEDULE.fullmatch(str(expression)):
            raise ConfigError(
                f"maintenanceSchedules.{name}: {expression!r} is not a "
                "rate(...) or cron(...) expression"
            )
        schedules[name] = str(expression)
    values["maintenance_schedules"] = schedules
    if not 30 <= values["ai_stream_timeout_seconds"] <= 900:
        raise ConfigError(
            "aiStreamTimeoutSeconds must be 30-900 (API Gateway's streaming limit)"
        )
    if not 8 <= values["db_rotation_days"] <= 365:
        raise ConfigError(
            "dbRotationDays must be 8-365: the services restart weekly, and a "
            "task's credentials stay valid for one rotation period"
        )
    if not values["certificate_arn"] and not (
        values["hosted_zone_id"] and values["hosted_zone_name"]
    ):
        raise ConfigError(
            "the ALB needs a certificate: set certificateArn, or hostedZoneId and "
            "hostedZoneName so one is issued with DNS validation"
        )
    if values["task_subnets"] not in ("public", "private"):
        raise ConfigError("taskSubnets must be 'public' or 'private'")
    if values["task_subnets"] == "private" and values["nat_gateways"] < 1:
        raise ConfigError(
            "tasks in private subnets need a NAT gateway: the AI providers and "
            "Cognito's JWKS are on the internet (set natGateways>=1 or "
            "taskSubnets=public)"
        )
    if values["cpu_architecture"] not in ("arm64", "x86_64"):
        raise ConfigError("cpuArchitecture must be 'arm64' or 'x86_64'")
    if values["secrets_injection"] not in ("arn", "ecs"):
        raise ConfigError("secretsInjection must be 'arn' or 'ecs'")
    for service in ("api", "ai"):
        low, high = values[f"{service}_min_tasks"], values[f"{service}_max_tasks"]
        if not 1 <= low <= high:
            raise ConfigError(
                f"{service}MinTasks must be >= 1 and <= {service}MaxTasks"
            )
