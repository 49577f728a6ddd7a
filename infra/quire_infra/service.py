"""Compute and edge: CloudFront → API Gateway → internal ALB → ECS Fargate.

One image, two gunicorn configurations (``QUIRE_SERVE=api|ai``) as two services;
the internal ALB sends the streaming AI routes to the ``ai`` service and
everything else to ``api``. Nothing on the internet reaches the ALB: it sits in
isolated subnets and admits only API Gateway's VPC link, and it serves only
requests carrying the secret header CloudFront adds (a direct call to the API's
execute-api name gets the ALB's 403).

The parts are built elsewhere: the ALB in :mod:`quire_infra.alb`, the REST API
in :mod:`quire_infra.api`, CloudFront in :mod:`quire_infra.edge`, the task
definition in :mod:`quire_infra.task` and the task roles in
:mod:`quire_infra.roles`; this stack joins them to the Fargate services.
"""

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from quire_infra.alb import load_balancer, route_by_path
from quire_infra.api import rest_api
from quire_infra.common import retention
from quire_infra.config import StageConfig
from quire_infra.data import DataStack
from quire_infra.edge import distribution
from quire_infra.identity import IdentityStack
from quire_infra.network import APP_PORT, NetworkStack
from quire_infra.registry import RegistryStack
from quire_infra.roles import task_roles
from quire_infra.task import CONTAINER_NAME, GRACEFUL_TIMEOUT_SECONDS, TaskTemplate

HEALTH_CHECK_PATH = "/readyz"


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
        self.load_balancer, self.https_listener = load_balancer(
            self, config=config, network=network, data=data, zone=self.zone
        )
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
        self.tasks = TaskTemplate(
            config=config,
            data=data,
            identity=identity,
            region=self.region,
            public_host=self.public_host,
            forwarded_host=self.forwarded_host,
            download_key_id=self.download_key_id,
            image=self.image,
            log_group=self.log_group,
            roles=self.task_roles,
            signing_key=self.signing_key,
        )

        self.services: dict[str, QuireService] = {}
        for name in ("api", "ai"):
            self.services[name] = self._service(name)
        route_by_path(
            self.https_listener,
            origin_token=origin_token,
            api=self.services["api"].target_group,
            ai=self.services["ai"].target_group,
        )
        for name, quire_service in self.services.items():
            self._autoscale(name, quire_service)

        self._dns()
        self._outputs()

    @property
    def public_host(self) -> str:
        """Return the host name clients use: the domain, else CloudFront's own."""
        if self.config.cloudfront_certificate_arn:
            return self.config.domain_name
        return self.distribution.distribution_domain_name

    # -- compute -------------------------------------------------------------

    def _service(self, name: str) -> QuireService:
        config = self.config
        cpu = getattr(config, f"{name}_cpu")
        memory = getattr(config, f"{name}_memory")
        # Paused: no task runs (first deploy before migrating, or a dev night).
        minimum = 0 if config.paused else getattr(config, f"{name}_min_tasks")
        maximum = getattr(config, f"{name}_max_tasks")
        task_definition = self.tasks.task_definition(
            self, name, cpu=cpu, memory=memory, serve=name
        )
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

    # -- edge ----------------------------------------------------------------

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
