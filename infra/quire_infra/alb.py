"""The internal ALB: its certificate, its HTTPS listener and the path routing.

The ALB sits in isolated subnets and admits only API Gateway's VPC link; its
listener forwards only requests carrying the header CloudFront adds (anything
else gets a 403), the AI routes to the ``ai`` targets, the rest to ``api``.
"""

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.data import DataStack
from quire_infra.edge import AI_PATHS, ORIGIN_VERIFY_HEADER
from quire_infra.network import NetworkStack


def _certificate(
    scope: Construct, *, config: StageConfig, zone: route53.IHostedZone | None
) -> acm.ICertificate:
    if config.certificate_arn:
        return acm.Certificate.from_certificate_arn(
            scope, "AlbCertificate", config.certificate_arn
        )
    return acm.Certificate(
        scope,
        "AlbCertificate",
        domain_name=config.origin_domain_name,
        # CloudFront forwards the viewer's Host (domainName) when it has a
        # certificate for it, and then checks the origin's against it.
        subject_alternative_names=(
            [config.domain_name] if config.cloudfront_certificate_arn else None
        ),
        validation=acm.CertificateValidation.from_dns(zone),
    )


def load_balancer(
    scope: Construct,
    *,
    config: StageConfig,
    network: NetworkStack,
    data: DataStack,
    zone: route53.IHostedZone | None,
) -> tuple[elbv2.ApplicationLoadBalancer, elbv2.ApplicationListener]:
    """Return the internal ALB and its HTTPS listener, which answers 403 by default."""
    alb = elbv2.ApplicationLoadBalancer(
        scope,
        "Alb",
        load_balancer_name=config.prefix,
        vpc=network.vpc,
        # Internal, in subnets with no internet route; its group admits
        # only API Gateway's VPC link.
        vpc_subnets=network.lb_subnets,
        internet_facing=False,
        security_group=network.alb_sg,
        # One value per ALB: long enough for an AI stream's silences.
        idle_timeout=Duration.seconds(config.alb_idle_timeout_seconds),
        drop_invalid_header_fields=True,
        deletion_protection=config.is_prod,
    )
    https = alb.add_listener(
        "Https",
        port=443,
        protocol=elbv2.ApplicationProtocol.HTTPS,
        certificates=[_certificate(scope, config=config, zone=zone)],
        ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        open=False,
        # Only requests carrying CloudFront's origin header reach a target.
        default_action=elbv2.ListenerAction.fixed_response(
            403,
            content_type="application/json",
            message_body='{"detail": "Forbidden.", "code": "forbidden"}',
        ),
    )
    alb.log_access_logs(data.log_bucket, prefix="alb")
    return alb, https


def route_by_path(
    listener: elbv2.ApplicationListener,
    *,
    origin_token: str,
    api: elbv2.ApplicationTargetGroup,
    ai: elbv2.ApplicationTargetGroup,
) -> None:
    """Forward CloudFront's requests: the AI paths to ``ai``, the rest to ``api``."""
    listener.add_action(
        "AiRoutes",
        priority=10,
        conditions=[
            elbv2.ListenerCondition.http_header(ORIGIN_VERIFY_HEADER, [origin_token]),
            elbv2.ListenerCondition.path_patterns(AI_PATHS),
        ],
        action=elbv2.ListenerAction.forward([ai]),
    )
    listener.add_action(
        "ApiRoutes",
        priority=20,
        conditions=[
            elbv2.ListenerCondition.http_header(ORIGIN_VERIFY_HEADER, [origin_token])
        ],
        action=elbv2.ListenerAction.forward([api]),
    )
