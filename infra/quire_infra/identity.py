"""Identity and mail: the Cognito user pool, its app client, staff group, SES."""

from aws_cdk import Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
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
        self.sender_domain = config.sender_domain
        self.from_email = f"Quire <{config.sender_address}>"
        self.email_identity = self._ses_identity(config)
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
            # Sign-up and reset mail through our SES identity (DEVELOPER),
            # not Cognito's default sender and its daily limit.
            email=cognito.UserPoolEmail.with_ses(
                from_email=config.sender_address,
                from_name="Quire",
                ses_verified_domain=config.sender_domain,
            ),
            deletion_protection=config.is_prod,
            removal_policy=RemovalPolicy.RETAIN
            if config.is_prod
            else RemovalPolicy.DESTROY,
        )
        self.user_pool.node.add_dependency(self.email_identity)
        # The public client of the web app and the other apps: the
        # authorization code flow only (no implicit flow), OIDC scopes. A
        # public client has no secret, so PKCE (S256) is what binds a code to
        # the client that asked for it; Cognito honours it but has no switch
        # to require it, so every Quire client sends it.
        self.app_client = self.user_pool.add_client(
            "AppClient",
            user_pool_client_name=f"{config.prefix}-apps",
            generate_secret=False,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(
                    authorization_code_grant=True, implicit_code_grant=False
                ),
                scopes=[
                    cognito.OAuthScope.OPENID,
                    cognito.OAuthScope.EMAIL,
                    cognito.OAuthScope.PROFILE,
                ],
                callback_urls=config.web_callback_urls,
                logout_urls=config.web_sign_out_urls,
            ),
            supported_identity_providers=[
                cognito.UserPoolClientIdentityProvider.COGNITO
            ],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        # No password flows at all (SRP, USER_PASSWORD): sign-in happens in
        # the hosted pages, so only refreshing a session remains.
        self.app_client.node.default_child.add_property_override(
            "ExplicitAuthFlows", ["ALLOW_REFRESH_TOKEN_AUTH"]
        )
        self.staff_group = cognito.CfnUserPoolGroup(
            self,
            "StaffGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=STAFF_GROUP,
            description="Quire staff: Django admin access",
        )
        self.staff_group_name = STAFF_GROUP
        self.hosted_ui_domain: cognito.UserPoolDomain | None = None
        self.admin_client: cognito.UserPoolClient | None = None
        self.admin_client_secret: secretsmanager.Secret | None = None
        if config.cognito_domain_prefix:
            self._staff_sign_in(config)

    def _ses_identity(self, config: StageConfig) -> ses.EmailIdentity:
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
        return ses.EmailIdentity(self, "SenderIdentity", identity=identity)

    def _staff_sign_in(self, config: StageConfig) -> None:
        """Add the hosted UI and the confidential client the admin signs in with.

        The app (mozilla-django-oidc) reads ``COGNITO_DOMAIN``,
        ``COGNITO_ADMIN_CLIENT_ID`` and ``COGNITO_ADMIN_CLIENT_SECRET``; the
        client secret goes from Cognito into Secrets Manager at deploy time
        (a resolved attribute, never in the template) and into the task
        through ECS ``secrets``.
        """
        self.hosted_ui_domain = self.user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=config.cognito_domain_prefix
            ),
        )
        base = f"https://{config.domain_name}"
        self.admin_client = self.user_pool.add_client(
            "AdminClient",
            user_pool_client_name=f"{config.prefix}-admin",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[
                    cognito.OAuthScope.OPENID,
                    cognito.OAuthScope.EMAIL,
                    cognito.OAuthScope.PROFILE,
                ],
                callback_urls=[f"{base}/oidc/callback/"],
                logout_urls=[f"{base}/admin/login/"],
            ),
            supported_identity_providers=[
                cognito.UserPoolClientIdentityProvider.COGNITO
            ],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
        )
        cfn_client = self.admin_client.node.default_child
        self.admin_client_secret = secretsmanager.Secret(
            self,
            "AdminClientSecret",
            secret_name=f"{config.prefix}/cognito-admin-client-secret",
            description="Client secret of the admin sign-in app client",
            secret_string_value=SecretValue.resource_attribute(
                cfn_client.attr_client_secret
            ),
        )
