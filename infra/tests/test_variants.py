"""The switches dev and prod leave in their default positions."""

import pytest

pytestmark = pytest.mark.slow


def test_paused_services_run_no_task(dev_variant):
    """``paused=true``: both services at 0 tasks, autoscaling minimum 0."""
    for service in dev_variant.resources("Service", "AWS::ECS::Service").values():
        assert service["Properties"]["DesiredCount"] == 0
    targets = dev_variant.resources(
        "Service", "AWS::ApplicationAutoScaling::ScalableTarget"
    )
    assert sorted(t["Properties"]["MinCapacity"] for t in targets.values()) == [0, 0]


def test_x86_tasks_use_the_x86_platform(dev_variant):
    """``cpuArchitecture=x86_64`` switches every task definition."""
    for short_name in ("Service", "Migration"):
        dev_variant.template(short_name).all_resources_properties(
            "AWS::ECS::TaskDefinition",
            {
                "RuntimePlatform": {
                    "CpuArchitecture": "X86_64",
                    "OperatingSystemFamily": "LINUX",
                }
            },
        )


def test_private_tasks_get_no_public_ip_behind_two_nats(dev_variant):
    """Private tasks: app subnets behind one NAT per AZ, no public IP."""
    assert len(dev_variant.resources("Network", "AWS::EC2::NatGateway")) == 2
    for service in dev_variant.resources("Service", "AWS::ECS::Service").values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        assert all("appSubnet" in s["Fn::ImportValue"] for s in network["Subnets"])


def test_keyless_provider_gets_no_key_secret(dev_variant):
    """Bedrock authenticates with the task role: no key secret, no key variable."""
    names = {
        r["Properties"]["Name"]
        for r in dev_variant.resources("Data", "AWS::SecretsManager::Secret").values()
    }
    assert "quire-dev/ai/openai-api-key" in names
    assert not any("bedrock" in name for name in names)
    for resource in dev_variant.resources(
        "Service", "AWS::ECS::TaskDefinition"
    ).values():
        (container,) = resource["Properties"]["ContainerDefinitions"]
        env = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert env["AI_PROVIDERS"] == "openai,bedrock"
        assert "AI_BEDROCK_API_KEY_SECRET" not in env
        if env["QUIRE_SERVE"] == "ai":
            assert "AI_OPENAI_API_KEY_SECRET" in env


def test_paused_stage_schedules_nothing_and_pages_nobody(dev_variant):
    """``paused=true``: every schedule is disabled and no alarm sends anything."""
    for schedule in dev_variant.resources(
        "Migration", "AWS::Scheduler::Schedule"
    ).values():
        assert schedule["Properties"]["State"] == "DISABLED"
    for alarm in dev_variant.resources("Monitoring", "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["ActionsEnabled"] is False


def test_no_web_origins_no_cors_on_bucket_or_api(dev_variant):
    """Without ``webOrigins`` neither the bucket nor the API allows another origin."""
    for bucket in dev_variant.resources("Data", "AWS::S3::Bucket").values():
        assert "CorsConfiguration" not in bucket["Properties"]
    for short_name in ("Service", "Migration"):
        for resource in dev_variant.resources(
            short_name, "AWS::ECS::TaskDefinition"
        ).values():
            (container,) = resource["Properties"]["ContainerDefinitions"]
            names = {item["Name"] for item in container["Environment"]}
            assert "CORS_ALLOWED_ORIGINS" not in names
