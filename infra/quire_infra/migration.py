"""The one-off migration task, in its own stack so it can move to a new image first.

Deploy it alone (``cdk deploy -e Quire-<stage>-Migration -c imageTag=NEW``), run
it (the ``MigrateCommand`` output of the network stack), then deploy the rest:
the services' ``REQUIRE_MIGRATED=1`` refuses to serve an unmigrated database.
"""

from aws_cdk import Stack
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.service import ServiceStack


class MigrationStack(Stack):
    """A Fargate task definition running ``python manage.py migrate --noinput``."""

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: StageConfig,
        service: ServiceStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        # Same image, environment, secrets and role as the services.
        self.task_definition = service.task_definition(
            "migrate",
            cpu=config.api_cpu,
            memory=config.api_memory,
            serve=None,
            scope=self,
        )
