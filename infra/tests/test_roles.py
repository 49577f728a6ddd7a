"""Least privilege: each task role's exact actions, pinned."""

import json

import pytest

EXPECTED = {
    "Api": {
        "ReadSecrets": [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ],
        "BucketReadiness": ["s3:ListBucket"],
        "Attachments": [
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
        ],
        "CognitoUserAdmin": [
            "cognito-idp:AdminDeleteUser",
            "cognito-idp:AdminUserGlobalSignOut",
        ],
        "SendMail": ["ses:SendEmail", "ses:SendRawEmail"],
    },
    "Ai": {
        "ReadSecrets": [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ],
        "BucketReadiness": ["s3:ListBucket"],
    },
    "Migrate": {
        "ReadSecrets": [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ],
        "BucketReadiness": ["s3:ListBucket"],
        "Attachments": ["s3:DeleteObject", "s3:GetObject"],
        "CognitoUserAdmin": ["cognito-idp:AdminDeleteUser"],
    },
}


def role_statements(synth, role: str) -> dict[str, dict]:
    """Return the statements of ``<role>TaskRole``'s policy, by Sid."""
    (policy,) = [
        p["Properties"]
        for key, p in synth.resources("Service", "AWS::IAM::Policy").items()
        if key.startswith(f"{role}TaskRoleDefaultPolicy")
    ]
    statements = policy["PolicyDocument"]["Statement"]
    return {s["Sid"]: s for s in statements}


def actions(statement: dict) -> list[str]:
    found = statement["Action"]
    return sorted([found] if isinstance(found, str) else found)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_task_role_dev_has_exactly_its_actions(dev, role):
    """Each service's role allows exactly the calls its code makes."""
    statements = role_statements(dev, role)
    assert {sid: actions(s) for sid, s in statements.items()} == EXPECTED[role]
    assert all(s["Effect"] == "Allow" for s in statements.values())


@pytest.mark.parametrize("stage", ["dev", "prod", "dev_variant"])
def test_task_roles_any_stage_never_delete_object_versions(stage, request):
    """No policy of any stack grants s3:DeleteObjectVersion or an s3 wildcard."""
    synth = request.getfixturevalue(stage)
    for name in synth.templates:
        text = json.dumps(synth.templates[name])
        assert "s3:DeleteObjectVersion" not in text, name
        assert '"s3:*"' not in text.replace('"Effect": "Deny", "Principal"', "") or (
            name.endswith("-Data")
        ), name


def test_task_role_dev_secrets_are_named_per_service(dev):
    """api: app DB + key; ai: also the AI keys; migrate: also the master secret."""

    def resources(role):
        found = json.dumps(role_statements(dev, role)["ReadSecrets"]["Resource"])
        return found

    assert "AppDatabaseSecret" in resources("Api")
    assert "AiApiKey" not in resources("Api")
    assert "MasterUserSecret" not in resources("Api")
    assert "AiApiKeyOpenai" in resources("Ai")
    assert "AiApiKeyAnthropic" in resources("Ai")
    assert "MasterUserSecret" in resources("Migrate")
    for role in EXPECTED:
        assert "*" not in resources(role)


def test_task_role_dev_cognito_admin_only_on_the_pool(dev):
    """The api's two Cognito admin calls are limited to the user pool."""
    statement = role_statements(dev, "Api")["CognitoUserAdmin"]
    assert "UserPool" in json.dumps(statement["Resource"])


def test_task_role_bedrock_only_with_a_bedrock_provider(dev, dev_variant):
    """Bedrock is granted to ai only when aiProviders names bedrock."""
    assert "BedrockModels" not in role_statements(dev, "Ai")
    bedrock = role_statements(dev_variant, "Ai")["BedrockModels"]
    assert actions(bedrock) == [
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    ]
    assert "BedrockModels" not in role_statements(dev_variant, "Api")
