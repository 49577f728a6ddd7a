"""What matters in the synthesized templates, pinned with aws_cdk.assertions."""

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from quire_infra.edge import AI_PATHS

from .conftest import SIGNING_KEY_SECRET

WIRED_ENV = {
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DATABASE_SECRET_ARN",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_REGION_NAME",
    "COGNITO_AWS_REGION",
    "COGNITO_USER_POOL",
    "COGNITO_AUDIENCE",
    "COGNITO_STAFF_GROUP",
    "METRICS_ENABLED",
    "METRICS_NAMESPACE",
    "DJANGO_DEFAULT_FROM_EMAIL",
    "AI_PROVIDERS",
    "PORT",
    "GUNICORN_BIND",
    "GUNICORN_KEEPALIVE",
}
# Names that would carry a secret's value; none may be a plain environment entry.
SECRET_VALUE_NAMES = {
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "AI_OPENAI_API_KEY",
    "AI_ANTHROPIC_API_KEY",
    "AWS_CLOUDFRONT_KEY",
    "COGNITO_ADMIN_CLIENT_SECRET",
}
ALARMS = {
    "Http5xxRate",
    "ApiGateway5xxRate",
    "ApiP99Latency",
    "ApiUnhealthyHosts",
    "AiUnhealthyHosts",
    "ApiNoHealthyHosts",
    "AiNoHealthyHosts",
    "ApiTaskMemory",
    "AiTaskMemory",
    "DbFreeStorage",
    "DbCpu",
    "DbConnections",
    "DbFreeableMemory",
    "AiSpend",
    "AiTokenVolume",
    "MaintenanceFailed",
    "MissedCleanupAttachments",
    "MissedPurgeTrash",
    "MissedAiReleaseStale",
    "MissedPurgeIdempotencyKeys",
    "MissedPurgeThrottleBuckets",
    "MissedPurgeAccountTombstones",
}


def containers(synth) -> dict[str, dict[str, Any]]:
    """Return the single container of each task definition, keyed by family."""
    result = {}
    task_definitions = {
        **synth.resources("Service", "AWS::ECS::TaskDefinition"),
        **synth.resources("Migration", "AWS::ECS::TaskDefinition"),
    }
    for resource in task_definitions.values():
        props = resource["Properties"]
        (container,) = props["ContainerDefinitions"]
        result[props["Family"]] = container
    return result


def task_definitions(synth) -> dict[str, dict[str, Any]]:
    """Return each task definition's properties, keyed by family."""
    found = {
        **synth.resources("Service", "AWS::ECS::TaskDefinition"),
        **synth.resources("Migration", "AWS::ECS::TaskDefinition"),
    }
    return {r["Properties"]["Family"]: r["Properties"] for r in found.values()}


def environment(container: dict[str, Any]) -> dict[str, Any]:
    """Return a container's plain environment as a dict."""
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


# -- data --------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_bucket_any_stage_is_private_encrypted_versioned(stage, request):
    """The attachments bucket blocks all public access, encrypts and versions."""
    request.getfixturevalue(stage).template("Data").has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "OwnershipControls": {
                "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
            },
        },
    )


def test_bucket_policy_any_request_without_tls_is_denied(dev):
    """The bucket policy denies every request not made over TLS."""
    dev.template("Data").has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_bucket_policy_cloudfront_read_is_limited_to_this_account(dev):
    """Only this account's CloudFront distributions may read objects."""
    dev.template("Data").has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "s3:GetObject",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Condition": Match.object_like(
                                    {
                                        "StringEquals": {
                                            "AWS:SourceAccount": Match.any_value()
                                        }
                                    }
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )


def test_bucket_lifecycle_dev_aborts_multipart_and_expires_noncurrent(dev):
    """Incomplete multipart uploads are aborted; old versions expire."""
    dev.template("Data").has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "AbortIncompleteMultipartUpload": {
                                    "DaysAfterInitiation": 1
                                }
                            }
                        ),
                        Match.object_like(
                            {"NoncurrentVersionExpiration": {"NoncurrentDays": 7}}
                        ),
                    ]
                )
            }
        },
    )


def test_bucket_cors_dev_allows_presigned_post_from_web_origins(dev):
    """CORS lets the configured web origins POST (presigned) and GET."""
    dev.template("Data").has_resource_properties(
        "AWS::S3::Bucket",
        {
            "CorsConfiguration": {
                "CorsRules": [
                    Match.object_like(
                        {
                            "AllowedMethods": ["POST", "GET", "HEAD"],
                            "AllowedOrigins": [
                                "https://dev.app.quire.example.com",
                                "http://localhost:3000",
                            ],
                        }
                    )
                ]
            }
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_database_any_stage_is_private_encrypted_with_managed_master(stage, request):
    """PostgreSQL is private and encrypted; RDS manages the master password."""
    synth = request.getfixturevalue(stage)
    (instance,) = synth.resources("Data", "AWS::RDS::DBInstance").values()
    props = instance["Properties"]
    assert props["Engine"] == "postgres"
    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True
    assert props["ManageMasterUserPassword"] is True
    assert props["MasterUsername"] == "quire"
    assert "MasterUserPassword" not in props
    (subnet_group,) = synth.resources("Data", "AWS::RDS::DBSubnetGroup").values()
    assert all(
        "dataSubnet" in subnet["Fn::ImportValue"]
        for subnet in subnet_group["Properties"]["SubnetIds"]
    )


def test_database_app_secret_dev_names_the_app_role_and_the_master(dev):
    """The services' secret is for quire_app and carries the master secret's ARN."""
    (secret,) = [
        r["Properties"]
        for r in dev.resources("Data", "AWS::SecretsManager::Secret").values()
        if r["Properties"].get("Name") == "quire-dev/database-app"
    ]
    template = secret["GenerateSecretString"]["SecretStringTemplate"]
    rendered = json.dumps(template)
    assert '\\"username\\":\\"quire_app\\"' in rendered
    assert '\\"dbname\\":\\"quire\\"' in rendered
    # masterarn: what the alternating-users rotation signs in with.
    assert "masterarn" in rendered
    assert "MasterUserSecret.SecretArn" in rendered
    dev.template("Data").resource_count_is(
        "AWS::SecretsManager::SecretTargetAttachment", 1
    )


def test_database_app_secret_dev_rotates_with_alternating_users(dev):
    """Secrets Manager rotates it every 30 days (multi-user), not at deploy."""
    (schedule,) = dev.resources(
        "Data", "AWS::SecretsManager::RotationSchedule"
    ).values()
    props = schedule["Properties"]
    assert props["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    assert props["RotateImmediatelyOnUpdate"] is False
    hosted = props["HostedRotationLambda"]
    assert hosted["RotationType"] == "PostgreSQLMultiUser"
    assert "MasterUserSecret.SecretArn" in json.dumps(hosted["MasterSecretArn"])
    assert "RotationSg" in json.dumps(hosted["VpcSecurityGroupIds"])


def test_database_prod_is_protected_multi_az_and_backed_up(prod):
    """Prod's database has deletion protection, multi-AZ and two weeks of backups."""
    template = prod.template("Data")
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {"DeletionProtection": True, "MultiAZ": True, "BackupRetentionPeriod": 14},
    )
    template.has_resource("AWS::RDS::DBInstance", {"DeletionPolicy": "Retain"})


def test_database_dev_is_cheap_and_snapshotted_on_delete(dev):
    """Dev's database is single-AZ, unprotected, and snapshotted when deleted."""
    template = dev.template("Data")
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "DeletionProtection": False,
            "MultiAZ": False,
            "DBInstanceClass": "db.t4g.micro",
        },
    )
    template.has_resource("AWS::RDS::DBInstance", {"DeletionPolicy": "Snapshot"})


# -- network -----------------------------------------------------------------


def sg_ingress(synth, group_suffix: str) -> list[dict[str, Any]]:
    """Return the ingress rules attached to the security group ``group_suffix``."""
    raw = synth.raw("Network")["Resources"]
    (group_id,) = [
        key
        for key, value in raw.items()
        if value["Type"] == "AWS::EC2::SecurityGroup" and key.startswith(group_suffix)
    ]
    inline = raw[group_id]["Properties"].get("SecurityGroupIngress", [])
    separate = [
        value["Properties"]
        for value in raw.values()
        if value["Type"] == "AWS::EC2::SecurityGroupIngress"
        and value["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    return inline + separate


def test_security_groups_database_admits_only_tasks_and_rotation(dev):
    """The database admits 5432 from the tasks and the rotation function only."""
    rules = sg_ingress(dev, "DbSg")
    assert {(r["FromPort"], r["ToPort"]) for r in rules} == {(5432, 5432)}
    sources = sorted(r["SourceSecurityGroupId"]["Fn::GetAtt"][0][:7] for r in rules)
    assert sources == ["Rotatio", "TasksSg"]


def test_security_groups_tasks_admit_only_the_alb(dev):
    """The tasks group has exactly one ingress rule: 8000 from the ALB."""
    (rule,) = sg_ingress(dev, "TasksSg")
    assert rule["FromPort"] == rule["ToPort"] == 8000
    assert rule["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("AlbSg")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_security_groups_any_stage_alb_admits_only_the_vpc_link(stage, request):
    """The ALB's one ingress rule is 443 from API Gateway's VPC link group."""
    (rule,) = sg_ingress(request.getfixturevalue(stage), "AlbSg")
    assert rule["FromPort"] == rule["ToPort"] == 443
    assert rule["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("VpcLinkSg")
    assert "CidrIp" not in rule


def test_security_groups_dev_vpc_link_reaches_only_the_alb(dev):
    """The VPC link's group sends only to the ALB on 443 and admits nothing."""
    raw = dev.raw("Network")["Resources"]
    (group,) = [
        v
        for k, v in raw.items()
        if k.startswith("VpcLinkSg") and v["Type"] == "AWS::EC2::SecurityGroup"
    ]
    assert "SecurityGroupIngress" not in group["Properties"]
    egress = [
        v["Properties"]
        for v in raw.values()
        if v["Type"] == "AWS::EC2::SecurityGroupEgress"
        and v["Properties"]["GroupId"]["Fn::GetAtt"][0].startswith("VpcLinkSg")
    ]
    (rule,) = egress
    assert rule["FromPort"] == 443
    assert rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0].startswith("AlbSg")


def test_vpc_dev_has_no_nat_and_prod_one_per_az(dev, prod):
    """Dev saves the NAT gateway (public tasks); prod has one in each AZ."""
    assert dev.resources("Network", "AWS::EC2::NatGateway") == {}
    assert len(prod.resources("Network", "AWS::EC2::NatGateway")) == 2
    prod.template("Network").resource_count_is("AWS::EC2::Subnet", 8)
    dev.template("Network").resource_count_is("AWS::EC2::Subnet", 6)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_vpc_any_stage_lb_subnets_have_no_internet_route(stage, request):
    """The ALB's subnets route nowhere outside the VPC (no IGW, no NAT)."""
    raw = request.getfixturevalue(stage).raw("Network")["Resources"]
    lb_tables = {
        k
        for k, v in raw.items()
        if v["Type"] == "AWS::EC2::RouteTable" and k.startswith("VpclbSubnet")
    }
    assert len(lb_tables) == 2
    routes = [
        v
        for v in raw.values()
        if v["Type"] == "AWS::EC2::Route"
        and v["Properties"]["RouteTableId"].get("Ref") in lb_tables
    ]
    assert routes == []
    for key, value in raw.items():
        if value["Type"] == "AWS::EC2::Subnet" and key.startswith("VpclbSubnet"):
            assert value["Properties"]["MapPublicIpOnLaunch"] is False


def test_vpc_prod_writes_flow_logs_to_the_log_bucket(prod, dev):
    """Prod logs all VPC traffic to the access-log bucket; dev logs none."""
    (flow,) = prod.resources("Data", "AWS::EC2::FlowLog").values()
    assert flow["Properties"]["LogDestinationType"] == "s3"
    assert flow["Properties"]["TrafficType"] == "ALL"
    assert "AccessLogs" in json.dumps(flow["Properties"]["LogDestination"])
    assert dev.resources("Data", "AWS::EC2::FlowLog") == {}


# -- compute -----------------------------------------------------------------


def test_task_environment_dev_wires_every_runtime_variable(dev):
    """api and ai get every variable the runtime reads, and their QUIRE_SERVE."""
    by_family = containers(dev)
    for serve in ("api", "ai"):
        env = environment(by_family[f"quire-dev-{serve}"])
        assert env.keys() >= WIRED_ENV | {"DJANGO_SECRET_KEY_SECRET_ARN"}
        assert env["QUIRE_SERVE"] == serve
        assert env["REQUIRE_MIGRATED"] == "1"
        assert env["DJANGO_SETTINGS_MODULE"] == "project.settings.production"
        assert env["COGNITO_STAFF_GROUP"] == "staff"
        assert env["AI_PROVIDERS"] == "openai,anthropic"
        assert env["METRICS_NAMESPACE"] == "Quire/dev"
        assert env["GUNICORN_KEEPALIVE"] == "135"
    ai_env = environment(by_family["quire-dev-ai"])
    assert {"AI_OPENAI_API_KEY_SECRET", "AI_ANTHROPIC_API_KEY_SECRET"} <= ai_env.keys()
    # Only the ai service calls the providers (and only its role reads keys).
    for family in ("quire-dev-api", "quire-dev-migrate"):
        assert not any(
            k.startswith("AI_") and k.endswith("_SECRET")
            for k in environment(by_family[family])
        )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_task_environment_any_stage_cors_origins_are_the_buckets(stage, request):
    """Every task's CORS_ALLOWED_ORIGINS is the list the bucket's CORS allows."""
    synth = request.getfixturevalue(stage)
    (bucket,) = [
        b
        for b in synth.resources("Data", "AWS::S3::Bucket").values()
        if "CorsConfiguration" in b["Properties"]
    ]
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"]
    for container in containers(synth).values():
        env = environment(container)
        assert env["CORS_ALLOWED_ORIGINS"].split(",") == rule["AllowedOrigins"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_task_environment_any_stage_carries_no_secret_value(stage, request):
    """Secrets travel by ARN (or ECS ``secrets``), never as plain values."""
    for container in containers(request.getfixturevalue(stage)).values():
        env = environment(container)
        assert not SECRET_VALUE_NAMES & env.keys()
        names = ["DATABASE_SECRET_ARN"]
        if env.get("QUIRE_SERVE") == "ai":
            names += ["AI_OPENAI_API_KEY_SECRET", "AI_ANTHROPIC_API_KEY_SECRET"]
        for name in names:
            # A reference to a secret resource in the data stack, not a literal.
            assert set(env[name]) == {"Fn::ImportValue"}, name
        literals = [value for value in env.values() if isinstance(value, str)]
        assert not any("resolve:secretsmanager" in value for value in literals)


def test_task_secret_key_dev_goes_by_arn(dev):
    """In ``arn`` mode the secret key's ARN is in the environment; no ECS secrets."""
    for container in containers(dev).values():
        assert "Secrets" not in container
        ref = environment(container)["DJANGO_SECRET_KEY_SECRET_ARN"]
        assert "DjangoSecretKey" in ref["Fn::ImportValue"]


def test_task_secret_key_prod_ecs_mode_is_injected_by_ecs(prod):
    """In ``ecs`` mode ECS resolves the secret key from Secrets Manager at start."""
    for container in containers(prod).values():
        secrets = {item["Name"]: item["ValueFrom"] for item in container["Secrets"]}
        assert "DjangoSecretKey" in secrets["DJANGO_SECRET_KEY"]["Fn::ImportValue"]
        assert "DJANGO_SECRET_KEY_SECRET_ARN" not in environment(container)


def test_task_signing_key_prod_comes_from_the_operator_secret(prod):
    """Signed downloads: key id and domain in env, the private key by ECS secret."""
    for container in containers(prod).values():
        secrets = {item["Name"]: item["ValueFrom"] for item in container["Secrets"]}
        assert secrets["AWS_CLOUDFRONT_KEY"] == SIGNING_KEY_SECRET
        env = environment(container)
        assert env["AWS_S3_CUSTOM_DOMAIN"] == "quire.example.com"
        # A Ref in the service stack, an import of it in the migration stack.
        assert "DownloadSigningKey" in json.dumps(env["AWS_CLOUDFRONT_KEY_ID"])


def test_task_roles_any_stage_are_one_per_service(dev):
    """api, ai and migrate each run with their own task role."""
    roles = {
        family: props["TaskRoleArn"]["Fn::GetAtt"][0]
        if "Fn::GetAtt" in props["TaskRoleArn"]
        else props["TaskRoleArn"]["Fn::ImportValue"]
        for family, props in task_definitions(dev).items()
    }
    assert "ApiTaskRole" in roles["quire-dev-api"]
    assert "AiTaskRole" in roles["quire-dev-ai"]
    assert "MigrateTaskRole" in roles["quire-dev-migrate"]


def test_migrate_task_dev_migrates_then_creates_the_app_role(dev):
    """The migrate task runs migrate, then db_app_role, as the master user."""
    container = containers(dev)["quire-dev-migrate"]
    assert container["Command"] == [
        "sh",
        "-c",
        "python manage.py migrate --noinput && python manage.py db_app_role",
    ]
    env = environment(container)
    assert "QUIRE_SERVE" not in env
    assert env.keys() >= WIRED_ENV
    assert "MasterUserSecret" in json.dumps(env["DATABASE_SECRET_ARN"])
    assert "AppDatabaseSecret" in json.dumps(env["DATABASE_APP_SECRET_ARN"])
    assert env["DATABASE_NAME"] == "quire"
    assert env["DATABASE_PORT"] == "5432"
    assert "EndpointAddress" in json.dumps(env["DATABASE_HOST"])
    assert "MigrateCommand" in dev.raw("Network")["Outputs"]


def test_services_dev_connect_as_the_app_role(dev):
    """api and ai read the application secret, never the master one."""
    for serve in ("api", "ai"):
        env = environment(containers(dev)[f"quire-dev-{serve}"])
        assert "AppDatabaseSecret" in json.dumps(env["DATABASE_SECRET_ARN"])
        assert "DATABASE_APP_SECRET_ARN" not in env
        assert "MasterUserSecret" not in json.dumps(env)


def test_containers_dev_stop_after_gunicorn_graceful_timeout(dev):
    """ECS waits 30 s after SIGTERM: longer than gunicorn's 25 s graceful timeout."""
    for family, container in containers(dev).items():
        assert container["StopTimeout"] == 30, family
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_task_definitions_any_stage_run_on_graviton(stage, request):
    """Tasks run on ARM64 Fargate by default."""
    synth = request.getfixturevalue(stage)
    for short_name in ("Service", "Migration"):
        synth.template(short_name).all_resources_properties(
            "AWS::ECS::TaskDefinition",
            {
                "RuntimePlatform": {
                    "CpuArchitecture": "ARM64",
                    "OperatingSystemFamily": "LINUX",
                },
                "RequiresCompatibilities": ["FARGATE"],
            },
        )


def test_target_groups_dev_check_readyz_and_drain_25s(dev):
    """Both target groups health-check /readyz and drain for the graceful timeout."""
    template = dev.template("Service")
    template.resource_count_is("AWS::ElasticLoadBalancingV2::TargetGroup", 2)
    template.all_resources_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/readyz",
            "HealthCheckIntervalSeconds": 10,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 2,
            "Port": 8000,
            "TargetType": "ip",
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "25"}]
            ),
        },
    )


def test_services_dev_leave_desired_count_to_autoscaling(dev):
    """No DesiredCount: a deploy must not scale a scaled-out service back in."""
    for service in dev.resources("Service", "AWS::ECS::Service").values():
        assert "DesiredCount" not in service["Properties"]


def test_services_any_stage_roll_back_failed_deployments(dev):
    """Both services use the deployment circuit breaker with rollback."""
    template = dev.template("Service")
    template.resource_count_is("AWS::ECS::Service", 2)
    template.all_resources_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like(
                {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MinimumHealthyPercent": 100,
                }
            ),
            "LaunchType": "FARGATE",
        },
    )


@pytest.mark.parametrize(
    ("stage", "limits"),
    [("dev", [(1, 2), (1, 2)]), ("prod", [(2, 6), (1, 4)])],
)
def test_autoscaling_any_stage_limits_and_policies(stage, limits, request):
    """Each service scales within its limits on CPU and on requests per target."""
    synth = request.getfixturevalue(stage)
    targets = synth.resources("Service", "AWS::ApplicationAutoScaling::ScalableTarget")
    found = sorted(
        (t["Properties"]["MinCapacity"], t["Properties"]["MaxCapacity"])
        for t in targets.values()
    )
    assert found == sorted(limits)
    policies = synth.resources("Service", "AWS::ApplicationAutoScaling::ScalingPolicy")
    metric_types = sorted(
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]
        for p in policies.values()
    )
    assert metric_types == sorted(
        ["ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"] * 2
    )


# -- load balancer and edge --------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_alb_any_stage_listens_on_https_only(stage, request):
    """The one listener is HTTPS 443; there is no plain-HTTP listener."""
    listeners = request.getfixturevalue(stage).resources(
        "Service", "AWS::ElasticLoadBalancingV2::Listener"
    )
    (listener,) = listeners.values()
    assert listener["Properties"]["Port"] == 443
    assert listener["Properties"]["Protocol"] == "HTTPS"


def test_alb_dev_refuses_requests_without_the_origin_header(dev):
    """HTTPS without CloudFront's header gets a fixed 403 JSON answer."""
    dev.template("Service").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 443,
            "Protocol": "HTTPS",
            "DefaultActions": [
                Match.object_like(
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": Match.object_like({"StatusCode": "403"}),
                    }
                )
            ],
        },
    )


def test_alb_dev_routes_ai_paths_to_the_ai_service(dev):
    """The AI routes go to the ai target group before the catch-all api rule."""
    rules = dev.resources("Service", "AWS::ElasticLoadBalancingV2::ListenerRule")
    by_priority = {r["Properties"]["Priority"]: r["Properties"] for r in rules.values()}
    ai_rule, api_rule = by_priority[10], by_priority[20]
    assert ai_rule["Actions"][0]["TargetGroupArn"]["Ref"].startswith("AiTargets")
    assert api_rule["Actions"][0]["TargetGroupArn"]["Ref"].startswith("ApiTargets")
    paths = [c for c in ai_rule["Conditions"] if c["Field"] == "path-pattern"]
    assert paths[0]["PathPatternConfig"]["Values"] == AI_PATHS
    for rule in (ai_rule, api_rule):
        (header,) = [c for c in rule["Conditions"] if c["Field"] == "http-header"]
        assert header["HttpHeaderConfig"]["HttpHeaderName"] == "X-Origin-Verify"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_alb_any_stage_is_internal_in_isolated_subnets(stage, request):
    """The ALB is internal, in the lb subnets, logs access, fits AI streams."""
    synth = request.getfixturevalue(stage)
    (alb,) = synth.resources(
        "Service", "AWS::ElasticLoadBalancingV2::LoadBalancer"
    ).values()
    props = alb["Properties"]
    assert props["Scheme"] == "internal"
    assert all("lbSubnet" in subnet["Fn::ImportValue"] for subnet in props["Subnets"])
    attributes = {a["Key"]: a["Value"] for a in props["LoadBalancerAttributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == "120"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.prefix"] == "alb"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


def test_distribution_dev_sends_api_and_admin_to_api_gateway_uncached(dev):
    """/api/* and /admin/* reach API Gateway's stage over HTTPS, never cached."""
    (dist,) = dev.resources("Service", "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert {"/api/*", "/admin/*", *AI_PATHS} <= behaviors.keys()
    caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    for path in ("/api/*", "/admin/*", *AI_PATHS):
        assert behaviors[path]["CachePolicyId"] == caching_disabled
        assert behaviors[path]["ViewerProtocolPolicy"] == "https-only"
    for path in AI_PATHS:
        assert behaviors[path]["Compress"] is False
    (origin,) = config["Origins"]
    assert "execute-api" in json.dumps(origin["DomainName"])
    assert "ApiDeploymentStagelive" in json.dumps(origin["OriginPath"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["OriginCustomHeaders"][0]["HeaderName"] == "X-Origin-Verify"


ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_distribution_any_stage_keeps_api_gateway_host(stage, request):
    """API Gateway answers on its own name: the viewer's Host is not forwarded."""
    synth = request.getfixturevalue(stage)
    (dist,) = synth.resources("Service", "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    assert (
        config["DefaultCacheBehavior"]["OriginRequestPolicyId"]
        == ALL_VIEWER_EXCEPT_HOST
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_distribution_any_stage_logs_to_the_log_bucket(stage, request):
    """CloudFront writes standard logs under cloudfront/ in the log bucket."""
    synth = request.getfixturevalue(stage)
    (dist,) = synth.resources("Service", "AWS::CloudFront::Distribution").values()
    logging = dist["Properties"]["DistributionConfig"]["Logging"]
    assert logging["Prefix"] == "cloudfront/"
    assert "AccessLogs" in json.dumps(logging["Bucket"])


def test_distribution_prod_with_domain_has_alias_and_origin_certificate(prod):
    """With a custom domain the distribution answers on it; the ALB cert covers it."""
    (dist,) = prod.resources("Service", "AWS::CloudFront::Distribution").values()
    assert dist["Properties"]["DistributionConfig"]["Aliases"] == ["quire.example.com"]
    prod.template("Service").has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {
            "DomainName": "origin.quire.example.com",
            "SubjectAlternativeNames": ["quire.example.com"],
        },
    )


def test_distribution_prod_serves_downloads_from_bucket_with_signed_urls(prod):
    """The download path reads the bucket through OAC and needs a signed URL."""
    template = prod.template("Service")
    template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    template.resource_count_is("AWS::CloudFront::KeyGroup", 1)
    (dist,) = prod.resources("Service", "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    (download,) = [
        b for b in config["CacheBehaviors"] if b["PathPattern"] == "/attachments/*"
    ]
    assert download["AllowedMethods"] == ["GET", "HEAD"]
    assert download["TrustedKeyGroups"]
    assert config["Aliases"] == ["quire.example.com"]
    s3_origins = [o for o in config["Origins"] if "S3OriginConfig" in o]
    assert s3_origins[0]["OriginAccessControlId"]


def test_waf_prod_on_the_distribution_and_dev_off(dev, prod):
    """Prod's distribution carries the us-east-1 web ACL; no regional ACL anywhere."""
    assert "Quire-dev-Waf" not in dev.templates
    (dist,) = dev.resources("Service", "AWS::CloudFront::Distribution").values()
    assert "WebACLId" not in dist["Properties"]["DistributionConfig"]
    (dist,) = prod.resources("Service", "AWS::CloudFront::Distribution").values()
    # Read across regions from the Waf stack (an SSM parameter in us-east-1).
    assert "WebAcl" in json.dumps(dist["Properties"]["DistributionConfig"]["WebACLId"])
    for synth in (dev, prod):
        for name in synth.templates:
            if not name.endswith("-Waf"):
                assert (
                    synth.resources(name.split("-", 2)[2], "AWS::WAFv2::WebACL") == {}
                )


def test_log_group_any_stage_has_retention(dev, prod):
    """The container log group keeps logs for the stage's retention."""
    dev.template("Service").has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": "/ecs/quire-dev", "RetentionInDays": 14}
    )
    prod.template("Service").has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": "/ecs/quire-prod", "RetentionInDays": 90},
    )


# -- registry and identity ---------------------------------------------------


def test_repository_dev_scans_on_push_with_lifecycle(dev):
    """ECR scans each pushed image, keeps tags immutable and expires old images."""
    dev.template("Registry").has_resource_properties(
        "AWS::ECR::Repository",
        {
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "ImageTagMutability": "IMMUTABLE",
            "LifecyclePolicy": {
                "LifecyclePolicyText": Match.string_like_regexp("untagged")
            },
        },
    )


def test_user_pool_dev_email_sign_in_strong_passwords_optional_mfa(dev):
    """Email sign-in, verified email, 12+ characters of four kinds, optional TOTP."""
    dev.template("Identity").has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "MfaConfiguration": "OPTIONAL",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                )
            },
        },
    )


def test_app_client_dev_is_public_code_flow_only(dev):
    """No secret, the code grant only, OIDC scopes, no password flows."""
    dev.template("Identity").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "ClientName": "quire-dev-apps",
            "GenerateSecret": False,
            "AllowedOAuthFlows": ["code"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthScopes": ["openid", "email", "profile"],
            "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
            "SupportedIdentityProviders": ["COGNITO"],
            "PreventUserExistenceErrors": "ENABLED",
        },
    )


def test_app_client_dev_urls_come_from_configuration(dev):
    """Callback and sign-out URLs are the configured ones (defaults on the domain)."""
    dev.template("Identity").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "ClientName": "quire-dev-apps",
            "CallbackURLs": ["https://dev.quire.example.com/auth/callback"],
            "LogoutURLs": ["https://dev.quire.example.com/"],
        },
    )


def test_user_pool_dev_sends_mail_through_ses(dev):
    """Cognito's mail goes through the SES identity (DEVELOPER), from the sender."""
    (pool,) = dev.resources("Identity", "AWS::Cognito::UserPool").values()
    email = pool["Properties"]["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == "Quire <no-reply@example.com>"
    assert email["SourceArn"]["Fn::Join"][1][-1] == ":identity/example.com"
    assert any(d.startswith("SenderIdentity") for d in pool["DependsOn"])


def test_identity_dev_has_staff_group_and_ses_identity(dev):
    """A ``staff`` group exists and the sender domain is an SES identity."""
    template = dev.template("Identity")
    template.has_resource_properties(
        "AWS::Cognito::UserPoolGroup", {"GroupName": "staff"}
    )
    template.has_resource_properties(
        "AWS::SES::EmailIdentity", {"EmailIdentity": "example.com"}
    )


# -- monitoring --------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_alarms_any_stage_all_exist_and_notify_sns(stage, request):
    """Every alarm exists and notifies the alarm topic on ALARM and OK."""
    synth = request.getfixturevalue(stage)
    alarms = synth.resources("Monitoring", "AWS::CloudWatch::Alarm")
    names = {
        a["Properties"]["AlarmName"].removeprefix(f"quire-{stage}-")
        for a in alarms.values()
    }
    assert names == ALARMS
    (topic_id,) = synth.resources("Monitoring", "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]


def test_alarm_ai_spend_dev_sums_the_emf_namespace(dev):
    """The AI spend alarm sums the app's EMF cost metric across dimensions."""
    (alarm,) = [
        a
        for a in dev.resources("Monitoring", "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == "quire-dev-AiSpend"
    ]
    (query,) = alarm["Properties"]["Metrics"]
    assert query["Expression"] == 'SELECT SUM("AICostUSD") FROM "Quire/dev"'


def test_alarm_ai_tokens_dev_sums_what_the_ai_proxy_writes(dev):
    """The token-volume alarm reads ``AITokens``, the name aiproxy records."""
    (alarm,) = [
        a
        for a in dev.resources("Monitoring", "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == "quire-dev-AiTokenVolume"
    ]
    (query,) = alarm["Properties"]["Metrics"]
    assert query["Expression"] == 'SELECT SUM("AITokens") FROM "Quire/dev"'
    assert alarm["Properties"]["Threshold"] == 200_000


def test_dashboard_dev_shows_latency_errors_tasks_db_and_ai(dev):
    """The dashboard has the five graphs the on-call person needs."""
    (dashboard,) = dev.resources("Monitoring", "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Latency", "5xx", "Tasks", "Database", "AI tokens", "by route"):
        assert title in body


def test_alarm_topic_prod_mails_the_configured_address(prod):
    """Prod's alarm topic has the e-mail subscription from context."""
    prod.template("Monitoring").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_admin_client_prod_is_confidential_with_code_grant(prod):
    """Staff sign-in: a client with a secret, code grant, callbacks on the domain."""
    template = prod.template("Identity")
    template.resource_count_is("AWS::Cognito::UserPoolDomain", 1)
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": True,
            "AllowedOAuthFlows": ["code"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "CallbackURLs": ["https://quire.example.com/oidc/callback/"],
            "LogoutURLs": ["https://quire.example.com/admin/login/"],
        },
    )
    (secret,) = [
        resource["Properties"]
        for resource in prod.resources(
            "Identity", "AWS::SecretsManager::Secret"
        ).values()
        if resource["Properties"]["Name"] == "quire-prod/cognito-admin-client-secret"
    ]
    # Resolved from the client at deploy time; no value in the template.
    assert secret["SecretString"]["Fn::GetAtt"][1] == "ClientSecret"


def test_task_admin_sign_in_prod_gets_domain_client_and_secret(prod):
    """The task gets the hosted UI domain and client id, the secret by ECS."""
    for container in containers(prod).values():
        env = environment(container)
        assert "amazoncognito.com" in json.dumps(env["COGNITO_DOMAIN"])
        assert "AdminClient" in json.dumps(env["COGNITO_ADMIN_CLIENT_ID"])
        # The web app's sign-in uses the public client, the API's audience.
        assert env["COGNITO_WEB_CLIENT_ID"] == env["COGNITO_AUDIENCE"]
        assert "AppClient" in json.dumps(env["COGNITO_WEB_CLIENT_ID"])
        secrets = {item["Name"]: item["ValueFrom"] for item in container["Secrets"]}
        assert "AdminClientSecret" in json.dumps(secrets["COGNITO_ADMIN_CLIENT_SECRET"])
