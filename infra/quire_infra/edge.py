"""The CloudFront distribution: the public edge in front of API Gateway.

Behaviours: the AI paths (uncompressed, so server-sent events pass chunk by
chunk), ``/api/*``, ``/admin/*`` and the default go to the API's stage, never
cached; ``/static/*`` is cached; with a signing key, the download path reads
the bucket through origin access control and requires a signed URL.
"""

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.data import DataStack

AI_PATHS = ["/api/v1/ai/*", "/api/v1/documents/*/ai/*"]
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"


def distribution(
    scope: Construct,
    *,
    config: StageConfig,
    api: apigateway.RestApi,
    data: DataStack,
    origin_token: str,
    web_acl_arn: str | None,
) -> tuple[cloudfront.Distribution, str | None]:
    """Create the distribution; return it and the download key id (signed URLs)."""
    download_key_id = None
    # The API's execute-api name and stage path. The header travels
    # through API Gateway to the ALB, which serves nothing without it.
    alb_origin = origins.RestApiOrigin(
        api,
        custom_headers={ORIGIN_VERIFY_HEADER: origin_token},
        # Gap allowed between two bytes of a response: AI streams send
        # chunks well within it; 60 s is CloudFront's default ceiling.
        read_timeout=Duration.seconds(60),
        keepalive_timeout=Duration.seconds(60),
    )
    # API Gateway answers only on its own Host: every viewer header but
    # Host goes through (the public host reaches the app as
    # X-Forwarded-Host, set by API Gateway).
    viewer_policy = cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
    dynamic = cloudfront.BehaviorOptions(
        origin=alb_origin,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        origin_request_policy=viewer_policy,
        compress=True,
    )
    streaming = cloudfront.BehaviorOptions(
        origin=alb_origin,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        origin_request_policy=viewer_policy,
        # Server-sent events must reach the client chunk by chunk.
        compress=False,
    )
    behaviors: dict[str, cloudfront.BehaviorOptions] = dict.fromkeys(
        AI_PATHS, streaming
    )
    behaviors["/api/*"] = dynamic
    behaviors["/admin/*"] = dynamic
    behaviors["/static/*"] = cloudfront.BehaviorOptions(
        origin=alb_origin,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
        compress=True,
    )
    if config.cloudfront_public_key_pem:
        # Downloads by CloudFront signed URL, straight from the bucket via
        # origin access control; the bucket's policy is in the data stack.
        public_key = cloudfront.PublicKey(
            scope,
            "DownloadSigningKey",
            encoded_key=config.cloudfront_public_key_pem,
            comment="Verifies the app's signed download URLs",
        )
        key_group = cloudfront.KeyGroup(scope, "DownloadKeyGroup", items=[public_key])
        download_key_id = public_key.public_key_id
        bucket = s3.Bucket.from_bucket_attributes(
            scope,
            "AttachmentsBucket",
            bucket_name=data.bucket.bucket_name,
            bucket_regional_domain_name=data.bucket.bucket_regional_domain_name,
        )
        behaviors[config.download_path_pattern] = cloudfront.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(
                bucket, origin_access_levels=[cloudfront.AccessLevel.READ]
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            trusted_key_groups=[key_group],
        )
    certificate = None
    domain_names = None
    if config.cloudfront_certificate_arn:
        certificate = acm.Certificate.from_certificate_arn(
            scope, "CloudFrontCertificate", config.cloudfront_certificate_arn
        )
        domain_names = [config.domain_name]
    created = cloudfront.Distribution(
        scope,
        "Distribution",
        comment=f"{config.prefix}: API, admin and downloads",
        default_behavior=dynamic,
        additional_behaviors=behaviors,
        certificate=certificate,
        domain_names=domain_names,
        minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
        web_acl_id=web_acl_arn,
        enable_logging=True,
        log_bucket=data.log_bucket,
        log_file_prefix="cloudfront/",
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        price_class=cloudfront.PriceClass.PRICE_CLASS_100,
    )
    return created, download_key_id
