"""Stage configuration: defaults per stage, context overrides, refusals."""

from typing import Any

import pytest

from quire_infra.config import ConfigError, load_config

BASE = {
    "region": "eu-west-1",
    "domainName": "quire.example.com",
    "hostedZoneId": "Z0123456789EXAMPLE",
    "hostedZoneName": "example.com",
}


def context(**values: Any):
    """Return a ``try_get_context``-like callable over BASE plus ``values``."""
    merged = {**BASE, **values}
    return merged.get


def test_load_config_dev_defaults_are_cheap():
    """Dev runs without a NAT gateway, single-AZ and without deletion protection."""
    config = load_config(context(), "dev")
    assert (config.nat_gateways, config.task_subnets) == (0, "public")
    assert config.db_multi_az is False
    assert config.db_deletion_protection is False
    assert config.origin_domain_name == "origin.quire.example.com"


def test_load_config_prod_defaults_are_safe():
    """Prod keeps tasks private behind a NAT per AZ, multi-AZ, protected, with WAF."""
    config = load_config(context(), "prod")
    assert (config.nat_gateways, config.task_subnets) == (2, "private")
    assert config.flow_logs is True
    assert config.db_multi_az is True
    assert config.db_deletion_protection is True
    assert config.waf is True
    assert config.api_min_tasks >= 2


def test_load_config_stage_block_overrides_flat_context():
    """A value under ``stages.<stage>`` wins over the flat context key."""
    config = load_config(
        context(apiMaxTasks=3, stages={"prod": {"apiMaxTasks": 9}}), "prod"
    )
    assert config.api_max_tasks == 9


def test_load_config_cli_strings_are_coerced():
    """``-c key=value`` strings become the default's type."""
    config = load_config(
        context(
            waf="true", natGateways="2", webOrigins="https://a.test, https://b.test"
        ),
        "dev",
    )
    assert config.waf is True
    assert config.nat_gateways == 2
    assert config.web_origins == ["https://a.test", "https://b.test"]


def test_load_config_metrics_namespace_defaults_per_stage():
    """Each stage writes its metrics to its own namespace unless told otherwise."""
    assert load_config(context(), "prod").metrics_namespace == "Quire/prod"
    assert load_config(context(metricsNamespace="X"), "prod").metrics_namespace == "X"


def test_load_config_stage_from_context_is_used():
    """Without an explicit stage, the ``stage`` context key decides."""
    assert load_config(context(stage="prod")).stage == "prod"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stage": "qa"}, "unknown stage"),
        ({"region": None}, "region is required"),
        ({"dbRotationDays": 7}, "dbRotationDays"),
        ({"aiStreamTimeoutSeconds": 901}, "aiStreamTimeoutSeconds"),
        ({"maintenanceSchedules": {"vacuum": "rate(1 hour)"}}, "no command"),
        ({"maintenanceSchedules": {"purge_trash": "daily"}}, "not a rate"),
        ({"webCallbackUrls": ["http://quire.example.com/cb"]}, "must be https"),
        ({"senderAddress": "ops@elsewhere.test"}, "senderAddress"),
        ({"domainName": None}, "domainName is required"),
        ({"hostedZoneId": None}, "needs a certificate"),
        ({"taskSubnets": "private", "natGateways": 0}, "need a NAT gateway"),
        ({"cpuArchitecture": "mips"}, "cpuArchitecture"),
        ({"secretsInjection": "env"}, "secretsInjection"),
        ({"apiMinTasks": 3, "apiMaxTasks": 2}, "apiMinTasks"),
        ({"waf": "maybe"}, "true/false"),
        ({"cloudFrontPublicKeyPem": "-----BEGIN PUBLIC KEY-----"}, "both"),
        ({"aiProviders": ["open ai"]}, "not a provider name"),
        ({"cognitoDomainPrefix": "quire"}, "needs cloudFrontCertificateArn"),
        (
            {"cognitoDomainPrefix": "my-cognito", "cloudFrontCertificateArn": "arn:x"},
            "not a valid prefix",
        ),
    ],
)
def test_load_config_unworkable_context_is_refused(values, message):
    """Combinations that would synthesize but not work raise ConfigError."""
    with pytest.raises(ConfigError, match=message):
        load_config(context(**values))


def test_load_config_certificate_arn_replaces_hosted_zone():
    """An imported certificate makes the hosted zone optional."""
    config = load_config(
        context(
            hostedZoneId=None,
            certificateArn="arn:aws:acm:eu-west-1:123456789012:certificate/x",
        ),
        "dev",
    )
    assert config.certificate_arn.endswith("certificate/x")


def test_load_config_paused_allows_zero_tasks():
    """``paused=true`` (first deploy, dev nights) is a boolean switch."""
    assert load_config(context(paused="true"), "dev").paused is True
    assert load_config(context(), "dev").paused is False


def test_load_config_web_urls_default_to_the_domain():
    """The app client's callback and sign-out URLs derive from domainName."""
    config = load_config(context(), "prod")
    assert config.web_callback_urls == ["https://quire.example.com/auth/callback"]
    assert config.web_sign_out_urls == ["https://quire.example.com/"]


def test_load_config_web_urls_allow_localhost_for_development():
    """A developer's http://localhost callback is accepted next to https ones."""
    config = load_config(
        context(
            webCallbackUrls="https://a.test/auth/callback,http://localhost:8000/auth/callback"
        ),
        "dev",
    )
    assert config.web_callback_urls[1] == "http://localhost:8000/auth/callback"


def test_load_config_maintenance_schedule_override_keeps_the_others():
    """Overriding one schedule leaves the other commands on their defaults."""
    config = load_config(
        context(maintenanceSchedules='{"purge_trash": "cron(0 5 * * ? *)"}'), "dev"
    )
    assert config.maintenance_schedules == {
        "cleanup_attachments": "rate(1 hour)",
        "ai_release_stale": "rate(15 minutes)",
        "purge_trash": "cron(0 5 * * ? *)",
        "purge_idempotency_keys": "cron(30 3 * * ? *)",
        "purge_throttle_buckets": "cron(45 3 * * ? *)",
        "purge_account_tombstones": "cron(0 4 * * ? *)",
    }
