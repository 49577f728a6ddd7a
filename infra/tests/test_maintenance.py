"""Scheduled maintenance: the schedules, what they run, and their alarms."""

import json

import pytest

from quire_infra.config import MAINTENANCE_COMMANDS, NOT_MAINTENANCE
from quire_infra.maintenance import expected_interval_seconds

from .conftest import INFRA_DIR

SCHEDULES = {
    "quire-dev-cleanup-attachments": "rate(1 hour)",
    "quire-dev-ai-release-stale": "rate(15 minutes)",
    "quire-dev-purge-trash": "cron(15 3 * * ? *)",
    "quire-dev-purge-idempotency-keys": "cron(30 3 * * ? *)",
    "quire-dev-purge-throttle-buckets": "cron(45 3 * * ? *)",
    "quire-dev-purge-account-tombstones": "cron(0 4 * * ? *)",
}
COMMANDS = {
    "quire-dev-cleanup-attachments": ["python", "manage.py", "cleanup_attachments"],
    "quire-dev-ai-release-stale": ["python", "manage.py", "ai_release_stale"],
    "quire-dev-purge-trash": [
        "python",
        "manage.py",
        "purge_trash",
        "--older-than",
        "30d",
    ],
    "quire-dev-purge-idempotency-keys": [
        "python",
        "manage.py",
        "purge_idempotency_keys",
    ],
    "quire-dev-purge-throttle-buckets": [
        "python",
        "manage.py",
        "purge_throttle_buckets",
    ],
    "quire-dev-purge-account-tombstones": [
        "python",
        "manage.py",
        "purge_account_tombstones",
    ],
}


def schedules(synth) -> dict[str, dict]:
    return {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.resources("Migration", "AWS::Scheduler::Schedule").values()
    }


def test_schedules_dev_are_pinned(dev):
    """Each maintenance command has its schedule, in UTC, always on time."""
    found = schedules(dev)
    maintenance = {k: v for k, v in found.items() if not k.endswith("-refresh")}
    assert {k: v["ScheduleExpression"] for k, v in maintenance.items()} == SCHEDULES
    for props in maintenance.values():
        assert props["ScheduleExpressionTimezone"] == "UTC"
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert props["State"] == "ENABLED"
        assert props["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:ecs:runTask"


def test_schedules_dev_run_each_command_on_the_migrate_definition(dev):
    """RunTask on the migrate family, overriding the command and the DB secret."""
    for name, props in schedules(dev).items():
        if name not in COMMANDS:
            continue
        text = json.dumps(props["Target"]["Input"])
        assert '\\"TaskDefinition\\":\\"quire-dev-migrate\\"' in text
        assert '\\"Group\\":\\"maintenance:' in text
        for word in COMMANDS[name]:
            assert f'\\"{word}\\"' in text
        # As the application role, not the master user.
        assert "DATABASE_SECRET_ARN" in text
        assert "AppDatabaseSecret" in text


def test_schedules_override_from_configuration(tmp_path):
    """maintenanceSchedules changes one command's schedule."""
    from .conftest import synthesize

    synth = synthesize(
        "dev", tmp_path, maintenanceSchedules={"purge_trash": "cron(0 5 ? * SUN *)"}
    )
    assert schedules(synth)["quire-dev-purge-trash"]["ScheduleExpression"] == (
        "cron(0 5 ? * SUN *)"
    )


def test_schedules_dev_restart_services_weekly(dev):
    """api and ai are restarted weekly so no task outlives a rotation period."""
    found = schedules(dev)
    for name in ("quire-dev-api-refresh", "quire-dev-ai-refresh"):
        props = found[name]
        assert props["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:ecs:updateService"
        assert "ForceNewDeployment" in json.dumps(props["Target"]["Input"])


def test_scheduler_role_dev_runs_only_the_migrate_family(dev):
    """The scheduler may run the migrate family, pass its roles, restart services."""
    (policy,) = [
        p["Properties"]
        for key, p in dev.resources("Migration", "AWS::IAM::Policy").items()
        if key.startswith("SchedulerRole")
    ]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert sorted(statements) == ["PassTaskRoles", "RestartServices", "RunMaintenance"]
    assert statements["RunMaintenance"]["Action"] == "ecs:RunTask"
    assert "task-definition/quire-dev-migrate:*" in json.dumps(
        statements["RunMaintenance"]["Resource"]
    )
    assert statements["PassTaskRoles"]["Action"] == "iam:PassRole"
    assert statements["RestartServices"]["Action"] == "ecs:UpdateService"


def test_rules_dev_see_success_per_command_and_any_failure(dev):
    """One rule per command matches exit 0; one matches any failed run."""
    rules = {
        r["Properties"]["Name"]: r["Properties"]["EventPattern"]
        for r in dev.resources("Migration", "AWS::Events::Rule").values()
    }
    assert len(rules) == 7
    ok = rules["quire-dev-cleanup-attachments-succeeded"]["detail"]
    assert ok["group"] == ["maintenance:cleanup_attachments"]
    assert ok["containers"]["exitCode"] == [0]
    failed = rules["quire-dev-maintenance-failed"]["detail"]
    assert failed["group"] == [{"prefix": "maintenance:"}]
    assert {"stopCode": ["TaskFailedToStart"]} in failed["$or"]


def test_alarms_dev_fire_on_failure_and_on_a_missed_run(dev):
    """MaintenanceFailed on any failure; Missed* when two periods see no success."""
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in dev.resources("Monitoring", "AWS::CloudWatch::Alarm").values()
    }
    failed = alarms["quire-dev-MaintenanceFailed"]
    assert failed["MetricName"] == "MatchedEvents"
    assert failed["Threshold"] == 1
    missed = alarms["quire-dev-MissedCleanupAttachments"]
    assert missed["Period"] == 3600
    assert (missed["EvaluationPeriods"], missed["DatapointsToAlarm"]) == (2, 2)
    assert missed["TreatMissingData"] == "breaching"
    assert missed["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["quire-dev-MissedAiReleaseStale"]["Period"] == 900
    assert alarms["quire-dev-MissedPurgeTrash"]["Period"] == 86400


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(15 minutes)", 900),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
        ("rate(30 days)", 259200),
        ("cron(15 3 * * ? *)", 86400),
    ],
)
def test_expected_interval_seconds_reads_rates_and_takes_cron_as_daily(
    expression, seconds
):
    """The alarm period follows a rate, capped at 3 days; cron counts as daily."""
    assert expected_interval_seconds(expression) == seconds


def test_schedules_cover_every_maintenance_command_in_the_project():
    """A new management command is either scheduled or declared not maintenance."""
    on_disk = {
        path.stem
        for path in INFRA_DIR.parent.glob("*/management/commands/*.py")
        if path.stem != "__init__"
    }
    assert on_disk - NOT_MAINTENANCE == set(MAINTENANCE_COMMANDS)
