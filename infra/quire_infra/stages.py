"""Assemble one stage's stacks in deployment order."""

from dataclasses import dataclass

import aws_cdk as cdk

from quire_infra.config import StageConfig, load_config
from quire_infra.data import DataStack
from quire_infra.edge_alarms import EdgeAlarmsStack
from quire_infra.identity import IdentityStack
from quire_infra.migration import MigrationStack
from quire_infra.monitoring import MonitoringStack
from quire_infra.network import NetworkStack
from quire_infra.registry import RegistryStack
from quire_infra.service import ServiceStack
from quire_infra.waf import WafStack

# CloudFront's web ACLs and metrics exist only in us-east-1.
EDGE_REGION = "us-east-1"


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
    edge_alarms: EdgeAlarmsStack
    waf: WafStack | None


def build_stage(app: cdk.App, stage: str | None = None) -> QuireStage:
    """Add the stacks of ``stage`` (default: the ``stage`` context, else dev) to ``app``."""
    config = load_config(app.node.try_get_context, stage)
    env = cdk.Environment(account=config.account, region=config.region)
    edge_env = cdk.Environment(account=config.account, region=EDGE_REGION)
    name = f"Quire-{config.stage}"

    def kwargs(description: str, environment: cdk.Environment = env) -> dict:
        return {
            "env": environment,
            "config": config,
            "description": f"Quire ({config.stage}): {description}",
        }

    waf = None
    if config.waf:
        waf = WafStack(
            app,
            f"{name}-Waf",
            cross_region_references=True,
            **kwargs("CloudFront web ACL (us-east-1)", edge_env),
        )

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
        web_acl_arn=waf.web_acl_arn if waf is not None else None,
        cross_region_references=True,
        **kwargs("CloudFront, API Gateway, internal ALB, ECS Fargate services"),
    )
    migration = MigrationStack(
        app,
        f"{name}-Migration",
        service=service,
        network=network,
        **kwargs("database migration task and scheduled maintenance"),
    )
    monitoring = MonitoringStack(
        app,
        f"{name}-Monitoring",
        data=data,
        service=service,
        migration=migration,
        **kwargs("alarms and dashboard"),
    )
    edge_alarms = EdgeAlarmsStack(
        app,
        f"{name}-EdgeAlarms",
        service=service,
        cross_region_references=True,
        **kwargs("CloudFront alarms (us-east-1)", edge_env),
    )
    stacks = [registry, network, data, identity, service, migration, monitoring]
    stacks += [edge_alarms] + ([waf] if waf is not None else [])
    for stack in stacks:
        cdk.Tags.of(stack).add("project", "quire")
        cdk.Tags.of(stack).add("stage", config.stage)
    return QuireStage(
        config,
        registry,
        network,
        data,
        identity,
        service,
        migration,
        monitoring,
        edge_alarms,
        waf,
    )
