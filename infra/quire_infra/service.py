"""Compute and edge: CloudFront → API Gateway → internal ALB → ECS Fargate.

One image, two gunicorn configurations (``QUIRE_SERVE=api|ai``) as two services;
the internal ALB sends the streaming AI routes to the ``ai`` service and
everything else to ``api``. Nothing on the internet reaches the ALB: it sits in
isolated subnets and admits only API Gateway's VPC link, and it serves only
requests carrying the secret header CloudFront adds (a direct call to the API's
execute-api name gets the ALB's 403).
"""

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from quire_infra.api import rest_api
from quire_infra.common import retention
from quire_infra.config import StageConfig
from quire_infra.data import DB_NAME, DataStack
from quire_infra.edge import AI_PATHS, ORIGIN_VERIFY_HEADER, distribution
from quire_infra.identity import IdentityStack
from quire_infra.network import APP_PORT, DB_PORT, NetworkStack
from quire_infra.registry import RegistryStack
from quire_infra.roles import task_roles

CONTAINER_NAME = "web"
HEALTH_CHECK_PATH = "/readyz"
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


@dataclass
class QuireService:
    """One Fargate service and what the monitoring stack needs to watch it."""

    name: str
    service: ecs.FargateService
    task_definition: ecs.FargateTaskDefinition
    target_group: elbv2.ApplicationTargetGroup
    scaling: ecs.ScalableTaskCount


class ServiceStack(Stack):
    """ECS cluster, the api/ai services, the migration task, ALB, CloudFront, WAF."""

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        data: DataStack,
        identity: IdentityStack,
        registry: RegistryStack,
        web_acl_arn: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.config = config
        self.network = network
        self.data = data
        self.identity = identity

        self.zone = None
        if config.hosted_zone_id and config.hosted_zone_name:
            self.zone = route53.HostedZone.from_hosted_zone_attributes(
                self,
                "Zone",
                hosted_zone_id=config.hosted_zone_id,
                zone_name=config.hosted_zone_name,
            )
        self.origin_verify = secretsmanager.Secret(
            self,
            "OriginVerify",
            secret_name=f"{config.prefix}/origin-verify",
            description="Header CloudFront adds so the ALB serves only CloudFront",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
        )
        # A CloudFormation dynamic reference, resolved at deploy time: the value
        # never appears in the template.
        origin_token = self.origin_verify.secret_value.unsafe_unwrap()

        self.web_acl_arn = web_acl_arn
        self.load_balancer, self.https_listener = self._load_balancer()
        # With a custom domain, API Gateway tells the app the public host
        # (X-Forwarded-Host, a constant). Without one the public host is the
        # distribution's own name, which the API cannot name (CloudFront's
        # origin is the API: a cycle), and the app sees the origin's name.
        self.forwarded_host = (
            config.domain_name if config.cloudfront_certificate_arn else None
        )
        self.api = rest_api(
            self,
            config=config,
            network=network,
            load_balancer=self.load_balancer,
            forwarded_host=self.forwarded_host,
        )
        self.distribution, self.download_key_id = distribution(
            self,
            config=config,
            api=self.api,
            data=data,
            origin_token=origin_token,
            web_acl_arn=web_acl_arn,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/ecs/{config.prefix}",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN
            if config.is_prod
            else RemovalPolicy.DESTROY,
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=config.prefix,
            vpc=network.vpc,
            container_insights_v2=(
                ecs.ContainerInsights.ENABLED
                if config.container_insights
                else ecs.ContainerInsights.DISABLED
            ),
        )
        self.image = ecs.ContainerImage.from_ecr_repository(
            registry.repository, tag=config.image_tag
        )
        self.task_roles = task_roles(self, config=config, data=data, identity=identity)
        # The private key behind cloudFrontPublicKeyPem, put in Secrets Manager
        # by the operator (CDK never sees it).
        self.signing_key = None
        if config.cloudfront_private_key_secret_arn:
            self.signing_key = secretsmanager.Secret.from_secret_complete_arn(
                self,
                "DownloadSigningPrivateKey",
                config.cloudfront_private_key_secret_arn,
            )

        self.services: dict[str, QuireService] = {}
        for name in ("api", "ai"):
            self.services[name] = self._service(name)
        self.https_listener.add_action(
            "AiRoutes",
            priority=10,
            conditions=[
                elbv2.ListenerCondition.http_header(
                    ORIGIN_VERIFY_HEADER, [origin_token]
                ),
                elbv2.ListenerCondition.path_patterns(AI_PATHS),
            ],
            action=elbv2.ListenerAction.forward([self.services["ai"].target_group]),
        )
        self.https_listener.add_action(
            "ApiRoutes",
            priority=20,
            conditions=[
                elbv2.ListenerCondition.http_header(
                    ORIGIN_VERIFY_HEADER, [origin_token]
                )
            ],
            action=elbv2.ListenerAction.forward([self.services["api"].target_group]),
        )
        for name, quire_service in self.services.items():
            self._autoscale(name, quire_service)

        self._dns()
        self._outputs()

    # -- environment ---------------------------------------------------------

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

    @property
    def public_host(self) -> str:
        """Return the host name clients use: the domain, else CloudFront's own."""
        if self.config.cloudfront_certificate_arn:
            return self.config.domain_name
        return self.distribution.distribution_domain_name

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

    # -- compute -------------------------------------------------------------

    def task_definition(
        self,
        name: str,
        *,
        cpu: int,
        memory: int,
        serve: str | None,
        scope: Construct | None = None,
    ) -> ecs.FargateTaskDefinition:
        """Define the one container of ``name``; ``serve=None`` runs the migrations."""
        config = self.config
        task_definition = ecs.FargateTaskDefinition(
            scope or self,
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
            task_role=self.task_roles["migrate" if serve is None else name],
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

    def _service(self, name: str) -> QuireService:
        config = self.config
        cpu = getattr(config, f"{name}_cpu")
        memory = getattr(config, f"{name}_memory")
        # Paused: no task runs (first deploy before migrating, or a dev night).
        minimum = 0 if config.paused else getattr(config, f"{name}_min_tasks")
        maximum = getattr(config, f"{name}_max_tasks")
        task_definition = self.task_definition(name, cpu=cpu, memory=memory, serve=name)
        service = ecs.FargateService(
            self,
            f"{name.capitalize()}Service",
            service_name=f"{config.prefix}-{name}",
            cluster=self.cluster,
            task_definition=task_definition,
            # Left out unless paused: a DesiredCount in the template would
            # reset a scaled-out service to the minimum on every deploy.
            desired_count=0 if config.paused else None,
            security_groups=[self.network.tasks_sg],
            vpc_subnets=self.network.task_subnets,
            assign_public_ip=config.task_subnets == "public",
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=Duration.seconds(60),
            enable_execute_command=config.enable_execute_command,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        target_group = elbv2.ApplicationTargetGroup(
            self,
            f"{name.capitalize()}Targets",
            vpc=self.network.vpc,
            port=APP_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[
                service.load_balancer_target(
                    container_name=CONTAINER_NAME, container_port=APP_PORT
                )
            ],
            deregistration_delay=Duration.seconds(GRACEFUL_TIMEOUT_SECONDS),
            load_balancing_algorithm_type=(
                elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS
                if name == "ai"
                else elbv2.TargetGroupLoadBalancingAlgorithmType.ROUND_ROBIN
            ),
            health_check=elbv2.HealthCheck(
                path=HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
            ),
        )
        scaling = service.auto_scale_task_count(
            min_capacity=minimum, max_capacity=maximum
        )
        return QuireService(name, service, task_definition, target_group, scaling)

    def _autoscale(self, name: str, quire_service: QuireService) -> None:
        config = self.config
        quire_service.scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=getattr(config, f"{name}_cpu_target"),
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        quire_service.scaling.scale_on_request_count(
            "Requests",
            requests_per_target=getattr(config, f"{name}_requests_per_target"),
            target_group=quire_service.target_group,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )

    # -- load balancer and edge ----------------------------------------------

    def _certificate(self) -> acm.ICertificate:
        config = self.config
        if config.certificate_arn:
            return acm.Certificate.from_certificate_arn(
                self, "AlbCertificate", config.certificate_arn
            )
        return acm.Certificate(
            self,
            "AlbCertificate",
            domain_name=config.origin_domain_name,
            # CloudFront forwards the viewer's Host (domainName) when it has a
            # certificate for it, and then checks the origin's against it.
            subject_alternative_names=(
                [config.domain_name] if config.cloudfront_certificate_arn else None
            ),
            validation=acm.CertificateValidation.from_dns(self.zone),
        )

    def _load_balancer(
        self,
    ) -> tuple[elbv2.ApplicationLoadBalancer, elbv2.ApplicationListener]:
        config = self.config
        alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            load_balancer_name=config.prefix,
            vpc=self.network.vpc,
            # Internal, in subnets with no internet route; its group admits
            # only API Gateway's VPC link.
            vpc_subnets=self.network.lb_subnets,
            internet_facing=False,
            security_group=self.network.alb_sg,
            # One value per ALB: long enough for an AI stream's silences.
            idle_timeout=Duration.seconds(config.alb_idle_timeout_seconds),
            drop_invalid_header_fields=True,
            deletion_protection=config.is_prod,
        )
        https = alb.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[self._certificate()],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
            # Only requests carrying CloudFront's origin header reach a target.
            default_action=elbv2.ListenerAction.fixed_response(
                403,
                content_type="application/json",
                message_body='{"detail": "Forbidden.", "code": "forbidden"}',
            ),
        )
        alb.log_access_logs(self.data.log_bucket, prefix="alb")
        return alb, https

    def _dns(self) -> None:
        if self.zone is None:
            return
        config = self.config
        if config.cloudfront_certificate_arn:
            target = route53.RecordTarget.from_alias(
                route53_targets.CloudFrontTarget(self.distribution)
            )
            route53.ARecord(
                self,
                "PublicRecord",
                zone=self.zone,
                record_name=config.domain_name,
                target=target,
            )
            route53.AaaaRecord(
                self,
                "PublicRecordIpv6",
                zone=self.zone,
                record_name=config.domain_name,
                target=target,
            )

    def _outputs(self) -> None:
        # The migrate command is an output of the network stack (it needs the
        # subnet and security group ids, which live there).
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(
            self,
            "DistributionDomainName",
            value=self.distribution.distribution_domain_name,
        )
        CfnOutput(
            self, "LoadBalancerDnsName", value=self.load_balancer.load_balancer_dns_name
        )
