"""The image registry: deployed first, so an image can be pushed before services start."""

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from quire_infra.config import StageConfig


class RegistryStack(Stack):
    """One ECR repository for the single Quire image (both gunicorn modes run it)."""

    def __init__(
        self, scope: Construct, cid: str, *, config: StageConfig, **kwargs
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=config.prefix,
            image_scan_on_push=True,
            # Deploy by immutable tag (the git sha): a tag always names one image.
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.AES_256,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description="Drop untagged layers after a week",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=Duration.days(7),
                    rule_priority=1,
                ),
                ecr.LifecycleRule(
                    description="Keep the 30 most recent images for rollbacks",
                    tag_status=ecr.TagStatus.ANY,
                    max_image_count=30,
                    rule_priority=2,
                ),
            ],
        )
