"""The migration task and the scheduled maintenance that runs on its definition.

Deploy it alone (``cdk deploy -e Quire-<stage>-Migration -c imageTag=NEW``), run
it (the ``MigrateCommand`` output of the network stack), then deploy the rest:
the services' ``REQUIRE_MIGRATED=1`` refuses to serve an unmigrated database.
The migrate container runs ``migrate`` and then ``db_app_role`` (the services'
database role and its grants) as the RDS master user.
"""

from aws_cdk import Stack
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.maintenance import maintenance
from quire_infra.network import NetworkStack
from quire_infra.service import ServiceStack
from quire_infra.task import CONTAINER_NAME


class MigrationStack(Stack):
    """The migrate task definition, maintenance schedules and their rules."""

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: StageConfig,
        service: ServiceStack,
        network: NetworkStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        # Same image, environment and secrets as the services; its own role.
        self.task_definition = service.tasks.task_definition(
            self,
            "migrate",
            cpu=config.api_cpu,
            memory=config.api_memory,
            serve=None,
        )
        self.jobs, self.failed_rule = maintenance(
            self,
            config=config,
            network=network,
            cluster=service.cluster,
            task_definition=self.task_definition,
            container_name=CONTAINER_NAME,
            app_secret_arn=service.data.app_database_secret.secret_arn,
            service_names=list(service.services),
        )
