"""API Gateway (REST, regional) in front of the internal ALB, through a VPC link.

Every path goes through one greedy ``{proxy+}`` resource (and the root), as an
``HTTP_PROXY`` private integration over a VPC link V2 straight to the internal
ALB, which routes the AI paths to the ``ai`` service. Every integration uses
``responseTransferMode: STREAM``: an AI answer reaches the client chunk by
chunk, and a plain JSON answer is a stream that ends at once. Splitting the
tree by path (buffered REST, streaming AI) would make API Gateway's resources
mirror Django's URLs: API Gateway does not fall back to a parent's greedy
variable, and ``/documents/{id}`` cannot sit next to ``/documents/{proxy+}``.

aws-cdk-lib's L2 integration knows VPC links V1 (NLB) only, so the VPC link V2
(``AWS::ApiGatewayV2::VpcLink``) and the method's ``ConnectionId`` and
``IntegrationTarget`` are set through the L1 (tests pin them).
"""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from quire_infra.common import retention
from quire_infra.config import StageConfig
from quire_infra.network import NetworkStack

STAGE_NAME = "live"
# The JSON fields of one access-log line ($context variables).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "responseLatency": "$context.responseLatency",
    "errorMessage": "$context.error.message",
    "userAgent": "$context.identity.userAgent",
}


def rest_api(
    scope: Construct,
    *,
    config: StageConfig,
    network: NetworkStack,
    load_balancer: elbv2.IApplicationLoadBalancer,
    forwarded_host: str | None,
) -> apigateway.RestApi:
    """Create the REST API whose every method proxies to the internal ALB."""
    access_logs = logs.LogGroup(
        scope,
        "ApiAccessLogs",
        log_group_name=f"/aws/apigateway/{config.prefix}",
        retention=retention(config.log_retention_days),
        removal_policy=RemovalPolicy.RETAIN
        if config.is_prod
        else RemovalPolicy.DESTROY,
    )
    api = apigateway.RestApi(
        scope,
        "Api",
        rest_api_name=config.prefix,
        description="Quire: CloudFront's origin, proxying to the internal ALB",
        endpoint_types=[apigateway.EndpointType.REGIONAL],
        # Bodies pass through unchanged (uploads, JSON, anything).
        binary_media_types=["*/*"],
        cloud_watch_role=True,
        cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
        deploy_options=apigateway.StageOptions(
            stage_name=STAGE_NAME,
            access_log_destination=apigateway.LogGroupLogDestination(access_logs),
            access_log_format=apigateway.AccessLogFormat.custom(
                "{"
                + ",".join(
                    f'"{key}":"{value}"' for key, value in ACCESS_LOG_FIELDS.items()
                )
                + "}"
            ),
            # The stage-wide ceiling; per client, the WAF's rate rule and the
            # app's own throttles apply first.
            throttling_rate_limit=config.api_throttle_rate_limit,
            throttling_burst_limit=config.api_throttle_burst_limit,
            metrics_enabled=True,
            logging_level=apigateway.MethodLoggingLevel.ERROR,
            data_trace_enabled=False,
        ),
    )
    vpc_link = apigatewayv2.CfnVpcLink(
        scope,
        "VpcLink",
        name=config.prefix,
        subnet_ids=network.vpc.select_subnets(subnet_group_name="lb").subnet_ids,
        security_group_ids=[network.vpc_link_sg.security_group_id],
    )
    origin = f"https://{config.origin_domain_name}"
    for resource, path in (
        (api.root, ""),
        (api.root.add_resource("{proxy+}"), "{proxy}"),
    ):
        parameters = {}
        if path:
            parameters["integration.request.path.proxy"] = "method.request.path.proxy"
        if forwarded_host is not None:
            # The public host, as a constant: the app builds its absolute
            # URLs (OIDC callbacks, Location) from it, and no client can
            # choose it.
            parameters["integration.request.header.X-Forwarded-Host"] = (
                f"'{forwarded_host}'"
            )
        method = resource.add_method(
            "ANY",
            apigateway.HttpIntegration(
                f"{origin}/{path}",
                http_method="ANY",
                proxy=True,
                options=apigateway.IntegrationOptions(
                    request_parameters=parameters or None,
                    timeout=Duration.seconds(config.ai_stream_timeout_seconds),
                    response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
                ),
            ),
            request_parameters={"method.request.path.proxy": True} if path else None,
        )
        cfn_method: apigateway.CfnMethod = method.node.default_child
        cfn_method.add_property_override("Integration.ConnectionType", "VPC_LINK")
        cfn_method.add_property_override("Integration.ConnectionId", vpc_link.ref)
        cfn_method.add_property_override(
            "Integration.IntegrationTarget", load_balancer.load_balancer_arn
        )
    return api
