"""Stateful resources: PostgreSQL, the attachments bucket and the app's secrets.

Termination protection is on in prod; the bucket and (in prod) the database are
retained when the stack is deleted.
"""

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from quire_infra.common import retention
from quire_infra.config import StageConfig
from quire_infra.network import NetworkStack

DB_NAME = "quire"
DB_USER = "quire"
# The role the services connect as; created by ``manage.py db_app_role`` in
# the migrate step, its password rotated by Secrets Manager (alternating
# users: the rotation adds ``quire_app_clone``, a member of ``quire_app``).
DB_APP_USER = "quire_app"
# Providers that authenticate without an API key (the task role, or nothing).
KEYLESS_PROVIDERS = {"bedrock", "mock"}


class DataStack(Stack):
    """RDS PostgreSQL, the S3 attachments bucket and the Secrets Manager secrets."""

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.config = config
        self._log_bucket(network)
        self._database(network)
        self._bucket()
        self._secrets()

    def _database(self, network: NetworkStack) -> None:
        config = self.config
        self.database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(
                version=rds.PostgresEngineVersion.VER_17_6
            ),
            instance_type=ec2.InstanceType(config.db_instance_type),
            vpc=network.vpc,
            vpc_subnets=network.db_subnets,
            security_groups=[network.db_sg],
            publicly_accessible=False,
            multi_az=config.db_multi_az,
            database_name=DB_NAME,
            # RDS keeps the master password in Secrets Manager and rotates
            # it itself; only the migrate task may read it.
            manage_master_user_password=True,
            credentials=rds.Credentials.from_username(DB_USER),
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=config.db_allocated_storage_gb,
            max_allocated_storage=config.db_max_allocated_storage_gb,
            backup_retention=Duration.days(config.db_backup_retention_days),
            preferred_backup_window="03:00-03:30",
            preferred_maintenance_window="sun:04:00-sun:04:30",
            deletion_protection=config.db_deletion_protection,
            removal_policy=(
                RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.SNAPSHOT
            ),
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
            enable_performance_insights=config.is_prod,
            # OS metrics every minute (memory, swap, processes) in prod.
            monitoring_interval=Duration.seconds(60) if config.is_prod else None,
            instance_identifier=config.prefix,
            cloudwatch_logs_exports=["postgresql"],
            parameter_group=rds.ParameterGroup(
                self,
                "DbParameters",
                engine=rds.DatabaseInstanceEngine.postgres(
                    version=rds.PostgresEngineVersion.VER_17_6
                ),
                parameters={
                    "rds.force_ssl": "1",
                    "log_min_duration_statement": "1000",
                },
            ),
        )
        # Created here rather than by RDS so that it has a retention (and no
        # log-retention Lambda is needed).
        db_logs = logs.LogGroup(
            self,
            "DatabaseLogs",
            log_group_name=f"/aws/rds/instance/{config.prefix}/postgresql",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.database.node.add_dependency(db_logs)
        if self.database.secret is None:  # pragma: no cover - RDS-managed
            raise RuntimeError("the database has no master secret")
        self.master_secret = self.database.secret
        # The services' credentials: JSON username/password/dbname plus the
        # host, port and engine the attachment adds, and ``masterarn``, which
        # the alternating-users rotation signs in with to change passwords.
        app_secret = rds.DatabaseSecret(
            self,
            "AppDatabaseSecret",
            username=DB_APP_USER,
            dbname=DB_NAME,
            secret_name=f"{config.prefix}/database-app",
            master_secret=self.master_secret,
        )
        self.app_database_secret = app_secret.attach(self.database)
        self.app_database_secret.add_rotation_schedule(
            "Rotation",
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_multi_user(
                master_secret=self.master_secret,
                vpc=network.vpc,
                vpc_subnets=network.rotation_subnets,
                security_groups=[network.rotation_sg],
                function_name=f"{config.prefix}-db-rotation",
            ),
            automatically_after=Duration.days(config.db_rotation_days),
            # The role exists only once the migrate step created it.
            rotate_immediately_on_update=False,
        )

    def _log_bucket(self, network: NetworkStack) -> None:
        """Create the access-log bucket: ALB, CloudFront, S3 and VPC flow logs."""
        config = self.config
        self.log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logs are written with an ACL; the ALB's
            # log delivery needs SSE-S3, not KMS.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(config.access_log_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        if config.flow_logs:
            # In this stack, not the network's: the bucket lives here.
            ec2.FlowLog(
                self,
                "FlowLogs",
                resource_type=ec2.FlowLogResourceType.from_vpc(network.vpc),
                destination=ec2.FlowLogDestination.to_s3(
                    self.log_bucket, "vpc-flow-logs/"
                ),
                traffic_type=ec2.FlowLogTrafficType.ALL,
            )

    def _bucket(self) -> None:
        config = self.config
        cors = []
        if config.web_origins:
            cors.append(
                s3.CorsRule(
                    # Browsers upload with a presigned POST and read with GET.
                    allowed_methods=[
                        s3.HttpMethods.POST,
                        s3.HttpMethods.GET,
                        s3.HttpMethods.HEAD,
                    ],
                    allowed_origins=config.web_origins,
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            )
        self.bucket = s3.Bucket(
            self,
            "Attachments",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            cors=cors or None,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/attachments/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(
                        config.noncurrent_version_expiration_days
                    ),
                ),
                s3.LifecycleRule(
                    id="remove-expired-delete-markers",
                    expired_object_delete_marker=True,
                ),
            ],
        )
        # CloudFront (origin access control) reads for signed downloads. The
        # distribution lives in the service stack; naming its ARN here would make
        # a reference cycle, so the grant covers this account's distributions.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontOriginAccessControlRead",
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={
                    "StringEquals": {"AWS:SourceAccount": self.account},
                    "ArnLike": {
                        "AWS:SourceArn": f"arn:{self.partition}:cloudfront::{self.account}:distribution/*"
                    },
                },
            )
        )

    def _secrets(self) -> None:
        prefix = self.config.prefix
        self.django_secret_key = secretsmanager.Secret(
            self,
            "DjangoSecretKey",
            secret_name=f"{prefix}/django-secret-key",
            description="Django SECRET_KEY (plain string)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # One key secret per configured provider that needs a key (Bedrock
        # uses the task role). Placeholders: the operator puts the real key in
        # after the first deploy (infra/README.md); the task reads it by ARN.
        self.ai_api_keys: dict[str, secretsmanager.Secret] = {}
        for name in self.config.ai_providers:
            if name in KEYLESS_PROVIDERS:
                continue
            self.ai_api_keys[name] = secretsmanager.Secret(
                self,
                f"AiApiKey{name.title().replace('-', '').replace('_', '')}",
                secret_name=f"{prefix}/ai/{name}-api-key",
                description=f"API key of the AI provider {name!r} (plain string)",
                removal_policy=RemovalPolicy.RETAIN,
            )
