"""Network: the VPC over two AZs and the security groups that fence each tier.

All security groups live here, with their rules, so that the data and service
stacks only consume them and no cross-stack reference cycle can form.
"""

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from quire_infra.config import StageConfig

APP_PORT = 8000
DB_PORT = 5432


class NetworkStack(Stack):
    """VPC, S3 gateway endpoint and the ALB → tasks → database security groups."""

    def __init__(
        self, scope: Construct, cid: str, *, config: StageConfig, **kwargs
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        subnets = [
            ec2.SubnetConfiguration(
                name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
            ),
            ec2.SubnetConfiguration(
                name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
            ),
        ]
        if config.nat_gateways > 0:
            subnets.insert(
                1,
                ec2.SubnetConfiguration(
                    name="app",
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                    cidr_mask=22,
                ),
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=config.nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=False,
        )
        # Free, and keeps S3 traffic (uploads verification, downloads) off the NAT.
        self.vpc.add_gateway_endpoint(
            "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3
        )
        if config.task_subnets == "private":
            self.task_subnets = ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
        else:
            self.task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
        self.db_subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
        )

        self.alb_sg = ec2.SecurityGroup(
            self,
            "AlbSg",
            vpc=self.vpc,
            description="Quire ALB: HTTPS from CloudFront/the internet, out only to the tasks",
            allow_all_outbound=False,
        )
        self.tasks_sg = ec2.SecurityGroup(
            self,
            "TasksSg",
            vpc=self.vpc,
            description="Quire tasks: in only from the ALB; out to AWS APIs and AI providers",
            allow_all_outbound=True,
        )
        self.db_sg = ec2.SecurityGroup(
            self,
            "DbSg",
            vpc=self.vpc,
            description="Quire database: in only from the tasks",
            allow_all_outbound=False,
        )
        if config.cloudfront_prefix_list_id:
            # CloudFront's origin-facing list counts as ~55 rules against the SG
            # quota of 60, so only HTTPS: nobody but CloudFront reaches port 80.
            self.alb_sg.add_ingress_rule(
                ec2.Peer.prefix_list(config.cloudfront_prefix_list_id),
                ec2.Port.tcp(443),
                "HTTPS from CloudFront only",
            )
        else:
            self.alb_sg.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS"
            )
            self.alb_sg.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP, redirected to HTTPS"
            )
        self.alb_sg.add_egress_rule(
            self.tasks_sg, ec2.Port.tcp(APP_PORT), "to the gunicorn tasks"
        )
        self.tasks_sg.add_ingress_rule(
            self.alb_sg, ec2.Port.tcp(APP_PORT), "from the ALB only"
        )
        self.db_sg.add_ingress_rule(
            self.tasks_sg, ec2.Port.tcp(DB_PORT), "PostgreSQL from the tasks only"
        )
        self._migrate_command(config)

    def _migrate_command(self, config: StageConfig) -> None:
        """Output the ``aws ecs run-task`` line that runs the one-off migrations."""
        subnets = self.vpc.select_subnets(
            subnet_type=self.task_subnets.subnet_type
        ).subnet_ids
        public_ip = "ENABLED" if config.task_subnets == "public" else "DISABLED"
        # Cluster and family names are fixed by the service stack.
        CfnOutput(
            self,
            "MigrateCommand",
            description="Run the one-off migration task, then wait for it to stop",
            value=(
                f"aws ecs run-task --cluster {config.prefix} --launch-type FARGATE "
                f"--task-definition {config.prefix}-migrate "
                "--network-configuration 'awsvpcConfiguration={subnets=["
                + ",".join(subnets)
                + f"],securityGroups=[{self.tasks_sg.security_group_id}],"
                f"assignPublicIp={public_ip}}}'"
            ),
        )
