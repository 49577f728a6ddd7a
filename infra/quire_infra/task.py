"""The one-container task definition the api, ai and migrate tasks share.

Every task runs the same image with the same logs, environment (names, ids and
ARNs, never secrets) and secrets injected by ECS; only the role, the size and
``QUIRE_SERVE`` (none for the migrate task, which runs :data:`MIGRATE_COMMAND`)
differ. The service stack builds one :class:`TaskTemplate`; the migration stack
defines its task from the same template.
"""

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.data import DB_NAME, DataStack
from quire_infra.identity import IdentityStack
from quire_infra.network import APP_PORT, DB_PORT

CONTAINER_NAME = "web"
# gunicorn's graceful timeout (gunicorn.conf.py): the ALB stops sending new
# requests and waits this long before cutting a target; ECS waits STOP_TIMEOUT
# after SIGTERM before SIGKILL, so in-flight requests finish first.
GRACEFUL_TIMEOUT_SECONDS = 25
STOP_TIMEOUT_SECONDS = 30
# Proxies that append to X-Forwarded-For: CloudFront, API Gateway, the ALB.
FORWARDING_HOPS = 3
# Migrations, then the application role and its grants (project/management/
# commands/db_app_role.py), as the master user.
MIGRATE_COMMAND = [
    "sh",
    "-c",
    "python manage.py migrate --noinput && python manage.py db_app_role",
]
# ECS's own liveness check: /healthz touches nothing but the process. The Host
# is one ALLOWED_HOSTS always holds (the task sets DJANGO_ALLOWED_HOSTS).
CONTAINER_HEALTH_COMMAND = [
    "CMD",
    "python",
    "-c",
    "import urllib.request as u; u.urlopen(u.Request("
    f"'http://127.0.0.1:{APP_PORT}/healthz', headers={{'Host': 'localhost'}}), "
    "timeout=4)",
]


@dataclass(frozen=True)
class TaskTemplate:
    """What every task definition of a stage is made from."""

    config: StageConfig
    data: DataStack
    identity: IdentityStack
    region: str
    # The host name clients use: the domain, else CloudFront's own.
    public_host: str
    # Set when API Gateway tells the app the public host (X-Forwarded-Host).
    forwarded_host: str | None
    download_key_id: str
    image: ecs.ContainerImage
    log_group: logs.ILogGroup
    roles: dict[str, iam.Role]
    # The private key behind cloudFrontPublicKeyPem, when there is one.
    signing_key: secretsmanager.ISecret | None

    def environment(self, serve: str | None) -> dict[str, str]:
        """Return the task's plain environment: names, ids and ARNs, never secrets.

        ``serve=None`` is the migrate task: it signs in as the RDS master
        user (a secret holding only username and password, so host, port and
        name come as variables) and is told the application secret, whose
        role ``db_app_role`` keeps in step.
        """
        config = self.config
        data = self.data
        identity = self.identity
        public_origin = f"https://{self.public_host}"
        env = {
            "DJANGO_SETTINGS_MODULE": "project.settings.production",
            # localhost: the container's own health check.
            "DJANGO_ALLOWED_HOSTS": ",".join(
                [config.domain_name, config.origin_domain_name, "localhost"]
            ),
            "DJANGO_CSRF_TRUSTED_ORIGINS": public_origin,
            "DATABASE_SECRET_ARN": data.app_database_secret.secret_arn,
            # X-Forwarded-For arrives as "<client>, <CloudFront edge>, <API
            # Gateway>": CloudFront appends the viewer, API Gateway the edge,
            # the ALB the VPC link. The client is the third from the right;
            # anything it sent itself sits further left.
            "API_NUM_PROXIES": str(FORWARDING_HOPS),
            "DOCUMENTS_MAX_BODY_BYTES": str(config.documents_max_body_bytes),
            "AI_MAX_BODY_BYTES": str(config.ai_max_body_bytes),
            "AWS_STORAGE_BUCKET_NAME": data.bucket.bucket_name,
            "AWS_S3_REGION_NAME": self.region,
            "COGNITO_AWS_REGION": self.region,
            "COGNITO_USER_POOL": identity.user_pool.user_pool_id,
            "COGNITO_AUDIENCE": identity.app_client.user_pool_client_id,
            "COGNITO_STAFF_GROUP": identity.staff_group_name,
            "AI_PROVIDERS": ",".join(config.ai_providers),
            "METRICS_ENABLED": "true",
            "METRICS_NAMESPACE": config.metrics_namespace,
            "DJANGO_DEFAULT_FROM_EMAIL": identity.from_email,
            "PORT": str(APP_PORT),
            "GUNICORN_BIND": f"0.0.0.0:{APP_PORT}",
            "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT_SECONDS),
            # Longer than the ALB idle timeout: the ALB, not gunicorn, closes
            # idle connections, so no request races a closing socket (502).
            "GUNICORN_KEEPALIVE": str(config.alb_idle_timeout_seconds + 15),
        }
        for name, secret in data.ai_api_keys.items() if serve == "ai" else ():
            env[f"AI_{name.upper().replace('-', '_')}_API_KEY_SECRET"] = (
                secret.secret_arn
            )
        if config.web_origins:
            # One list for both: an origin whose scripts may call the API may
            # also POST its uploads to the bucket (data.py's CORS rule).
            env["CORS_ALLOWED_ORIGINS"] = ",".join(config.web_origins)
        if config.cloudfront_public_key_pem:
            # Signed download URLs on the CloudFront domain (django-storages).
            env["AWS_S3_CUSTOM_DOMAIN"] = self.public_host
            env["AWS_CLOUDFRONT_KEY_ID"] = self.download_key_id
        if identity.hosted_ui_domain is not None and identity.admin_client is not None:
            env["COGNITO_DOMAIN"] = identity.hosted_ui_domain.base_url()
            env["COGNITO_ADMIN_CLIENT_ID"] = identity.admin_client.user_pool_client_id
            # The web app signs end users in with the public client, which
            # is also COGNITO_AUDIENCE (web/oidc.py).
            env["COGNITO_WEB_CLIENT_ID"] = identity.app_client.user_pool_client_id
        if config.secrets_injection == "arn":
            env["DJANGO_SECRET_KEY_SECRET_ARN"] = data.django_secret_key.secret_arn
        if self.forwarded_host is not None:
            env["DJANGO_USE_X_FORWARDED_HOST"] = "true"
        if serve is not None:
            env["QUIRE_SERVE"] = serve
            env["REQUIRE_MIGRATED"] = "1"
        else:
            database = data.database
            env["DATABASE_SECRET_ARN"] = data.master_secret.secret_arn
            env["DATABASE_HOST"] = database.db_instance_endpoint_address
            env["DATABASE_PORT"] = str(DB_PORT)
            env["DATABASE_NAME"] = DB_NAME
            env["DATABASE_APP_SECRET_ARN"] = data.app_database_secret.secret_arn
        return env

    def secrets(self) -> dict[str, ecs.Secret]:
        """Return what ECS injects from Secrets Manager when the task starts.

        In ``arn`` mode the app fetches its secrets itself (by the ARNs in its
        environment); the CloudFront signing key has no ARN variable in the
        app, so it always comes this way.
        """
        secrets = {}
        if self.config.secrets_injection == "ecs":
            secrets["DJANGO_SECRET_KEY"] = ecs.Secret.from_secrets_manager(
                self.data.django_secret_key
            )
        if self.identity.admin_client_secret is not None:
            secrets["COGNITO_ADMIN_CLIENT_SECRET"] = ecs.Secret.from_secrets_manager(
                self.identity.admin_client_secret
            )
        if self.signing_key is not None:
            secrets["AWS_CLOUDFRONT_KEY"] = ecs.Secret.from_secrets_manager(
                self.signing_key
            )
        return secrets

    def task_definition(
        self,
        scope: Construct,
        name: str,
        *,
        cpu: int,
        memory: int,
        serve: str | None,
    ) -> ecs.FargateTaskDefinition:
        """Define the one container of ``name``; ``serve=None`` runs the migrations."""
        config = self.config
        task_definition = ecs.FargateTaskDefinition(
            scope,
            f"{name.capitalize()}Task",
            family=f"{config.prefix}-{name}",
            cpu=cpu,
            memory_limit_mib=memory,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=(
                    ecs.CpuArchitecture.ARM64
                    if config.cpu_architecture == "arm64"
                    else ecs.CpuArchitecture.X86_64
                ),
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.roles["migrate" if serve is None else name],
        )
        container = task_definition.add_container(
            CONTAINER_NAME,
            image=self.image,
            essential=True,
            environment=self.environment(serve),
            secrets=self.secrets(),
            command=MIGRATE_COMMAND if serve is None else None,
            logging=ecs.LogDriver.aws_logs(
                stream_prefix=name, log_group=self.log_group
            ),
            stop_timeout=Duration.seconds(STOP_TIMEOUT_SECONDS),
            # ECS replaces a task whose process stops answering; the ALB's
            # /readyz check (dependencies too) only takes it out of rotation.
            health_check=(
                None
                if serve is None
                else ecs.HealthCheck(
                    command=CONTAINER_HEALTH_COMMAND,
                    interval=Duration.seconds(30),
                    timeout=Duration.seconds(5),
                    retries=3,
                    start_period=Duration.seconds(60),
                )
            ),
            readonly_root_filesystem=False,
        )
        if serve is not None:
            container.add_port_mappings(
                ecs.PortMapping(container_port=APP_PORT, name="http")
            )
        return task_definition
