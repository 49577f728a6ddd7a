"""Identity and mail: the Cognito user pool, its app client, staff group, SES."""

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses as ses
from constructs import Construct

from quire_infra.config import StageConfig

STAFF_GROUP = "staff"


class IdentityStack(Stack):
    """Cognito (who the user is) and the SES sender identity (mail from us)."""

    def __init__(
        self, scope: Construct, cid: str, *, config: StageConfig, **kwargs
    ) -> None:
        super().__init__(scope, cid, **kwargs)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=config.prefix,
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            # TOTP only: SMS would need an SNS role and costs per message.
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=config.is_prod,
            removal_policy=RemovalPolicy.RETAIN
            if config.is_prod
            else RemovalPolicy.DESTROY,
        )
        self.app_client = self.user_pool.add_client(
            "AppClient",
            user_pool_client_name=f"{config.prefix}-apps",
            generate_secret=False,
            # SRP for sign-in; refresh tokens are always allowed.
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        self.staff_group = cognito.CfnUserPoolGroup(
            self,
            "StaffGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=STAFF_GROUP,
            description="Quire staff: Django admin access",
        )
        self.staff_group_name = STAFF_GROUP

        if config.hosted_zone_id and config.hosted_zone_name == config.sender_domain:
            # DKIM records are written into the zone, so the identity verifies itself.
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self,
                "Zone",
                hosted_zone_id=config.hosted_zone_id,
                zone_name=config.hosted_zone_name,
            )
            identity = ses.Identity.public_hosted_zone(zone)
        else:
            identity = ses.Identity.domain(config.sender_domain)
        self.email_identity = ses.EmailIdentity(
            self, "SenderIdentity", identity=identity
        )
        self.sender_domain = config.sender_domain
        self.from_email = f"Quire <no-reply@{config.sender_domain}>"
