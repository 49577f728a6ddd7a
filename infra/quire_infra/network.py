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
    """VPC, endpoints and the VPC link → ALB → tasks → database security groups."""

    def __init__(
        self, scope: Construct, cid: str, *, config: StageConfig, **kwargs
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        subnets = [
            ec2.SubnetConfiguration(
                name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
            ),
            # The internal ALB and API Gateway's VPC link: no route to or
            # from the internet at all.
            ec2.SubnetConfiguration(
                name="lb", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
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
            # The default group keeps no rule: nothing may use it by accident.
            restrict_default_security_group=True,
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
        self.lb_subnets = ec2.SubnetSelection(subnet_group_name="lb")
        self.db_subnets = ec2.SubnetSelection(subnet_group_name="data")

        self.vpc_link_sg = ec2.SecurityGroup(
            self,
            "VpcLinkSg",
            vpc=self.vpc,
            description="API Gateway VPC link: out only to the ALB on 443",
            allow_all_outbound=False,
        )
        self.alb_sg = ec2.SecurityGroup(
            self,
            "AlbSg",
            vpc=self.vpc,
            description="Quire internal ALB: in only from the VPC link, out only to the tasks",
            allow_all_outbound=False,
        )
        self.tasks_sg = ec2.SecurityGroup(
            self,
            "TasksSg",
            vpc=self.vpc,
            description="Quire tasks: in only from the ALB; out to AWS APIs and AI providers",
            allow_all_outbound=True,
        )
        self.rotation_sg = ec2.SecurityGroup(
            self,
            "RotationSg",
            vpc=self.vpc,
            description="Database secret rotation: out to the database and Secrets Manager",
            allow_all_outbound=True,
        )
        self.db_sg = ec2.SecurityGroup(
            self,
            "DbSg",
            vpc=self.vpc,
            description="Quire database: in only from the tasks and the rotation",
            allow_all_outbound=False,
        )
        self.vpc_link_sg.add_egress_rule(
            self.alb_sg, ec2.Port.tcp(443), "to the internal ALB"
        )
        self.alb_sg.add_ingress_rule(
            self.vpc_link_sg,
            ec2.Port.tcp(443),
            "HTTPS from API Gateway's VPC link only",
        )
        self.alb_sg.add_egress_rule(
            self.tasks_sg, ec2.Port.tcp(APP_PORT), "to the gunicorn tasks"
        )
        self.tasks_sg.add_ingress_rule(
            self.alb_sg, ec2.Port.tcp(APP_PORT), "from the ALB only"
        )
        self.db_sg.add_ingress_rule(
            self.tasks_sg, ec2.Port.tcp(DB_PORT), "PostgreSQL from the tasks"
        )
        self.db_sg.add_ingress_rule(
            self.rotation_sg, ec2.Port.tcp(DB_PORT), "PostgreSQL from the rotation"
        )
        if config.nat_gateways > 0:
            self.rotation_subnets = ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
        else:
            # No NAT (dev): the rotation function reaches Secrets Manager
            # through an interface endpoint in one AZ ($7.30 a month) instead.
            self.rotation_subnets = self.db_subnets
            endpoint_sg = ec2.SecurityGroup(
                self,
                "SecretsEndpointSg",
                vpc=self.vpc,
                description="Secrets Manager endpoint: HTTPS from the rotation and the tasks",
                allow_all_outbound=False,
            )
            for peer in (self.rotation_sg, self.tasks_sg):
                endpoint_sg.add_ingress_rule(peer, ec2.Port.tcp(443), "HTTPS")
            self.vpc.add_interface_endpoint(
                "SecretsManagerEndpoint",
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=ec2.SubnetSelection(
                    subnets=self.vpc.select_subnets(subnet_group_name="data").subnets[
                        :1
                    ]
                ),
                security_groups=[endpoint_sg],
                open=False,
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
