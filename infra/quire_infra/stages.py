"""Assemble one stage's stacks in deployment order."""

from dataclasses import dataclass

import aws_cdk as cdk

from quire_infra.config import StageConfig, load_config
from quire_infra.data import DataStack
from quire_infra.identity import IdentityStack
from quire_infra.migration import MigrationStack
from quire_infra.monitoring import MonitoringStack
from quire_infra.network import NetworkStack
from quire_infra.registry import RegistryStack
from quire_infra.service import ServiceStack


@dataclass
class QuireStage:
    """The stacks of one stage, for tests and for ``app.py``."""

    config: StageConfig
    registry: RegistryStack
    network: NetworkStack
    data: DataStack
    identity: IdentityStack
    service: ServiceStack
    migration: MigrationStack
    monitoring: MonitoringStack


def build_stage(app: cdk.App, stage: str | None = None) -> QuireStage:
    """Add the stacks of ``stage`` (default: the ``stage`` context, else dev) to ``app``."""
    config = load_config(app.node.try_get_context, stage)
    env = cdk.Environment(account=config.account, region=config.region)
    name = f"Quire-{config.stage}"

    def kwargs(description: str) -> dict:
        return {
            "env": env,
            "config": config,
            "description": f"Quire ({config.stage}): {description}",
        }

    registry = RegistryStack(app, f"{name}-Registry", **kwargs("container registry"))
    network = NetworkStack(app, f"{name}-Network", **kwargs("VPC and security groups"))
    data = DataStack(
        app,
        f"{name}-Data",
        network=network,
        termination_protection=config.is_prod,
        **kwargs("PostgreSQL, attachments bucket, secrets"),
    )
    identity = IdentityStack(
        app,
        f"{name}-Identity",
        termination_protection=config.is_prod,
        **kwargs("Cognito user pool and SES identity"),
    )
    service = ServiceStack(
        app,
        f"{name}-Service",
        network=network,
        data=data,
        identity=identity,
        registry=registry,
        **kwargs("ECS Fargate services, ALB, CloudFront, WAF"),
    )
    migration = MigrationStack(
        app,
        f"{name}-Migration",
        service=service,
        **kwargs("one-off database migration task"),
    )
    monitoring = MonitoringStack(
        app,
        f"{name}-Monitoring",
        data=data,
        service=service,
        **kwargs("alarms and dashboard"),
    )
    for stack in (registry, network, data, identity, service, migration, monitoring):
        cdk.Tags.of(stack).add("project", "quire")
        cdk.Tags.of(stack).add("stage", config.stage)
    return QuireStage(
        config, registry, network, data, identity, service, migration, monitoring
    )
