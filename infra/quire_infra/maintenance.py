"""Scheduled maintenance: each command as an ECS task on the migrate task definition.

EventBridge Scheduler calls ECS ``RunTask`` (a universal target, so the
request can override the container's command and environment) on the latest
revision of the ``<prefix>-migrate`` family: the image the last migration ran
on. The runs connect as the application role (``DATABASE_SECRET_ARN`` is
overridden), not as the master user.

Each run is started in the task group ``maintenance:<command>``. Two kinds of
EventBridge rule watch the ECS task state changes, and the monitoring stack
alarms on their ``MatchedEvents``: a failed run (non-zero exit, or a task that
never started), and, per command, a successful run, whose absence over its
period is the alarm "did not happen".

The services are also restarted weekly (a rolling ``UpdateService`` with
``forceNewDeployment``): a task reads the database secret when it starts,
and the alternating-users rotation keeps the previous credentials valid for
one whole rotation period, so no task may live longer than that.
"""

import re
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from quire_infra.config import MAINTENANCE_COMMANDS, StageConfig
from quire_infra.network import NetworkStack

GROUP_PREFIX = "maintenance:"
RUN_TASK = "arn:aws:scheduler:::aws-sdk:ecs:runTask"
UPDATE_SERVICE = "arn:aws:scheduler:::aws-sdk:ecs:updateService"
REFRESH_SCHEDULE = "cron(0 4 ? * TUE *)"
_RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def expected_interval_seconds(expression: str) -> int:
    """Return how often ``expression`` runs, as an alarm period (1 min to 3 days).

    A ``cron(...)`` expression is taken as daily (the defaults are). The
    "did not happen" alarm looks at two such periods, and CloudWatch looks
    back at most seven days.
    """
    match = _RATE.fullmatch(expression)
    if match is None:
        return 86400
    return min(int(match.group(1)) * _SECONDS[match.group(2)], 3 * 86400)


@dataclass
class MaintenanceJob:
    """One scheduled command and the rule that sees it succeed."""

    name: str
    expression: str
    schedule: scheduler.CfnSchedule
    succeeded: events.Rule


def maintenance(
    scope: Construct,
    *,
    config: StageConfig,
    network: NetworkStack,
    cluster: ecs.ICluster,
    task_definition: ecs.FargateTaskDefinition,
    container_name: str,
    app_secret_arn: str,
    service_names: list[str],
) -> tuple[dict[str, MaintenanceJob], events.Rule]:
    """Create the schedules and rules; return the jobs and the failure rule."""
    stack = Stack.of(scope)
    family = task_definition.family
    role = iam.Role(
        scope,
        "SchedulerRole",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        ),
        description="EventBridge Scheduler: run the maintenance tasks, restart services",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="RunMaintenance",
            actions=["ecs:RunTask"],
            resources=[
                f"arn:{stack.partition}:ecs:{stack.region}:{stack.account}"
                f":task-definition/{family}:*"
            ],
            conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PassTaskRoles",
            actions=["iam:PassRole"],
            resources=[
                task_definition.task_role.role_arn,
                task_definition.obtain_execution_role().role_arn,
            ],
            conditions={
                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
            },
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="RestartServices",
            actions=["ecs:UpdateService"],
            resources=[
                f"arn:{stack.partition}:ecs:{stack.region}:{stack.account}"
                f":service/{config.prefix}/{config.prefix}-{name}"
                for name in service_names
            ],
        )
    )
    subnets = network.vpc.select_subnets(
        subnet_type=network.task_subnets.subnet_type
    ).subnet_ids
    network_configuration = {
        "AwsvpcConfiguration": {
            "Subnets": subnets,
            "SecurityGroups": [network.tasks_sg.security_group_id],
            "AssignPublicIp": "ENABLED"
            if config.task_subnets == "public"
            else "DISABLED",
        }
    }
    # Paused (a first deploy before any migration, a dev night): no runs,
    # as the services run no task either.
    state = "DISABLED" if config.paused else "ENABLED"
    jobs = {}
    for name, command in MAINTENANCE_COMMANDS.items():
        expression = config.maintenance_schedules[name]
        request = {
            "Cluster": cluster.cluster_arn,
            "TaskDefinition": family,
            "LaunchType": "FARGATE",
            "Count": 1,
            "Group": GROUP_PREFIX + name,
            "StartedBy": "scheduler",
            "NetworkConfiguration": network_configuration,
            "Overrides": {
                "ContainerOverrides": [
                    {
                        "Name": container_name,
                        "Command": command,
                        "Environment": [
                            {"Name": "DATABASE_SECRET_ARN", "Value": app_secret_arn}
                        ],
                    }
                ]
            },
        }
        schedule = scheduler.CfnSchedule(
            scope,
            f"Schedule{_camel(name)}",
            name=f"{config.prefix}-{name.replace('_', '-')}",
            description=f"manage.py {name}",
            schedule_expression=expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                mode="OFF"
            ),
            state=state,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=RUN_TASK,
                role_arn=role.role_arn,
                input=stack.to_json_string(request),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=600, maximum_retry_attempts=3
                ),
            ),
        )
        succeeded = events.Rule(
            scope,
            f"Succeeded{_camel(name)}",
            rule_name=f"{config.prefix}-{name.replace('_', '-')}-succeeded",
            description=f"A manage.py {name} run exited 0",
            event_pattern=events.EventPattern(
                source=["aws.ecs"],
                detail_type=["ECS Task State Change"],
                detail={
                    "clusterArn": [cluster.cluster_arn],
                    "lastStatus": ["STOPPED"],
                    "group": [GROUP_PREFIX + name],
                    "containers": {"name": [container_name], "exitCode": [0]},
                },
            ),
        )
        jobs[name] = MaintenanceJob(name, expression, schedule, succeeded)
    failed = events.Rule(
        scope,
        "MaintenanceFailed",
        rule_name=f"{config.prefix}-maintenance-failed",
        description="A maintenance run exited non-zero or never started",
        event_pattern=events.EventPattern(
            source=["aws.ecs"],
            detail_type=["ECS Task State Change"],
            detail={
                "clusterArn": [cluster.cluster_arn],
                "lastStatus": ["STOPPED"],
                "group": [{"prefix": GROUP_PREFIX}],
                "$or": [
                    {"containers": {"exitCode": [{"anything-but": 0}]}},
                    {"stopCode": ["TaskFailedToStart"]},
                ],
            },
        ),
    )
    for name in service_names:
        scheduler.CfnSchedule(
            scope,
            f"Refresh{_camel(name)}",
            name=f"{config.prefix}-{name}-refresh",
            description=f"Rolling restart of {name}: tasks re-read their secrets",
            schedule_expression=REFRESH_SCHEDULE,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                mode="OFF"
            ),
            state=state,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=UPDATE_SERVICE,
                role_arn=role.role_arn,
                input=stack.to_json_string(
                    {
                        "Cluster": cluster.cluster_arn,
                        "Service": f"{config.prefix}-{name}",
                        "ForceNewDeployment": True,
                    }
                ),
            ),
        )
    return jobs, failed


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[_-]", name))
