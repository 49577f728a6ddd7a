"""One task role per service, each with only the calls its code makes.

What each process calls (the adapters are the only AWS code in the app):

- ``api``: reads its secrets; S3 through ``attachments/adapters/storage.py``
  (presigned POST = ``PutObject``, ``HeadObject``/``GetObject`` for the
  checks and digests, ``DeleteObject``, ``HeadBucket`` = ``ListBucket`` for
  ``/readyz``); Cognito ``AdminUserGlobalSignOut`` (sign out everywhere) and
  ``AdminDeleteUser`` (account deletion) in ``accounts/adapters/cognito.py``;
  SES for the sharing invitations (``documents/services.py``).
- ``ai``: reads its secrets and the AI keys; ``HeadBucket`` for ``/readyz``;
  Bedrock only when a ``bedrock`` provider is configured.
- ``migrate`` (and the scheduled maintenance on its task definition): the
  RDS-managed master secret and the application secret (``db_app_role``
  sets the application role's password); S3 list, head and delete
  (``cleanup_attachments``, ``purge_trash``); Cognito ``AdminDeleteUser``
  (``purge_account_tombstones`` retries unconfirmed deletions).

No role may call ``s3:DeleteObjectVersion``: deleting a key leaves a delete
marker, and the noncurrent versions stay until the lifecycle rule expires
them, so a compromised task cannot erase the history versioning keeps.
"""

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from quire_infra.config import StageConfig
from quire_infra.data import DataStack
from quire_infra.identity import IdentityStack

SERVICES = ("api", "ai", "migrate")

S3_ACTIONS = {
    "api": [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
    ],
    "ai": [],
    "migrate": ["s3:GetObject", "s3:DeleteObject"],
}
COGNITO_ACTIONS = {
    "api": ["cognito-idp:AdminUserGlobalSignOut", "cognito-idp:AdminDeleteUser"],
    "ai": [],
    # purge_account_tombstones retries the deletions Cognito did not confirm.
    "migrate": ["cognito-idp:AdminDeleteUser"],
}


def task_roles(
    scope: Construct,
    *,
    config: StageConfig,
    data: DataStack,
    identity: IdentityStack,
) -> dict[str, iam.Role]:
    """Return the api, ai and migrate task roles, each granted only its calls."""
    stack = Stack.of(scope)
    roles = {}
    for name in SERVICES:
        role = iam.Role(
            scope,
            f"{name.capitalize()}TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"What the Quire {name} container may call",
        )
        secrets = [data.app_database_secret]
        if name == "ai":
            secrets += list(data.ai_api_keys.values())
        if name == "migrate":
            secrets.append(data.master_secret)
        if config.secrets_injection == "arn":
            secrets.append(data.django_secret_key)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSecrets",
                actions=[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                ],
                resources=[secret.secret_arn for secret in secrets],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="BucketReadiness",
                actions=["s3:ListBucket"],
                resources=[data.bucket.bucket_arn],
            )
        )
        if S3_ACTIONS[name]:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="Attachments",
                    actions=S3_ACTIONS[name],
                    resources=[data.bucket.arn_for_objects("*")],
                )
            )
        if COGNITO_ACTIONS[name]:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="CognitoUserAdmin",
                    actions=COGNITO_ACTIONS[name],
                    resources=[identity.user_pool.user_pool_arn],
                )
            )
        if name == "api":
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendMail",
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[
                        f"arn:{stack.partition}:ses:{stack.region}:{stack.account}"
                        f":identity/{identity.sender_domain}"
                    ],
                )
            )
        if name == "ai" and "bedrock" in config.ai_providers:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="BedrockModels",
                    actions=[
                        "bedrock:InvokeModel",
                        "bedrock:InvokeModelWithResponseStream",
                    ],
                    resources=[
                        f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/*"
                    ],
                )
            )
        roles[name] = role
    return roles
