"""Staff sign-in for the console (docs/staff.md): a Cognito user pool (no self sign-up,
email sign-in, a group per role), the console's app client (authorization code with
PKCE, no secret) and the JWT authorizer of the staff routes (``/staff/admin/…``).

Machine access keeps IAM/SigV4 on ``/admin/…``. HTTP API allows one authorizer per
route, so the staff reach the same admin function on the same API under a prefix of
their own, which the function strips: one API, one stage, one set of throttles and
access logs, and the function tells the two apart by ``requestContext.authorizer``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import jsii
from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from linecrm.admin.staff import Role

# What the admin function does with the pool (the staff users API, owner only).
STAFF_ADMIN_ACTIONS = (
    "cognito-idp:ListUsers",
    "cognito-idp:ListUsersInGroup",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser",
)


class StaffAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        console_urls: Sequence[str] = (),
        domain_prefix: str | None = None,
    ) -> None:
        """``console_urls``: where the console is served (``https://…/console/``); more
        with ``serve_console_at`` (the CloudFront URL, known once the distribution is)."""
        super().__init__(scope, construct_id)
        self._console_urls: list[str] = list(console_urls)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            # Staff are invited by an owner (the staff users API), never sign up.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        Validations.of(self.user_pool).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG2",
                reason="MFA is optional (TOTP): shop staff enrol it themselves; the owner "
                "can require it in the pool when the shop wants",
            ),
            Acknowledgment(
                id="AwsSolutions-COG3",
                reason="threat protection is a paid feature plan; a staff pool of a few "
                "users signs in through the hosted UI with optional TOTP",
            ),
            Acknowledgment(
                id="AwsSolutions-COG8",
                reason="the Plus feature plan (threat protection) is a paid choice of the "
                "shop; the pool works on Essentials",
            ),
        )
        self.groups = {
            role: cognito.CfnUserPoolGroup(
                self,
                f"Group{role.value.title()}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=role.value,
                description=f"linecrm staff role: {role.value}",
            )
            for role in Role
        }
        # The console signs in through the managed login (hosted UI): the authorization
        # code flow with PKCE for a public client (no secret), never the implicit flow.
        # Its callback is <console URL>callback, its sign-out URL the console's own.
        self.console_client = self.user_pool.add_client(
            "ConsoleClient",
            generate_secret=False,
            # No password flow from the browser: the password goes to the managed login
            # only. SRP for other clients; refresh tokens for the managed login's.
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(
                    authorization_code_grant=True,
                    implicit_code_grant=False,
                    client_credentials=False,
                ),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=cdk.Lazy.list(_Urls(self._console_urls, "callback")),
                logout_urls=cdk.Lazy.list(_Urls(self._console_urls, "")),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
            # Cognito's own limit on an authorization code is five minutes.
            auth_session_validity=cdk.Duration.minutes(5),
        )
        self.domain = self.user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=domain_prefix or f"linecrm-staff-{cdk.Aws.ACCOUNT_ID}"
            ),
        )
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "StaffJwt",
            jwt_issuer=(
                f"https://cognito-idp.{cdk.Aws.REGION}.amazonaws.com/{self.user_pool.user_pool_id}"
            ),
            jwt_audience=[self.console_client.user_pool_client_id],
            identity_source=["$request.header.Authorization"],
        )

    def serve_console_at(self, console_url: str) -> None:
        """Another URL the console is served at (``https://…/console/``): its callback
        and sign-out URLs join the app client's."""
        self._console_urls.append(console_url)

    def grant_staff_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        """The staff users API: list, invite, change role, disable (this pool only)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(STAFF_ADMIN_ACTIONS),
            resource_arns=[self.user_pool.user_pool_arn],
        )


@jsii.implements(cdk.IStableListProducer)
class _Urls:
    """The app client's callback (``<console URL>callback``) or sign-out URLs, read at
    synthesis: the CloudFront URL is added after the client exists."""

    def __init__(self, console_urls: list[str], suffix: str) -> None:
        self._console_urls = console_urls
        self._suffix = suffix

    def produce(self) -> list[str] | None:
        if not self._console_urls:
            raise ValueError("the console's app client has no console URL: serve_console_at()")
        return [f"{url.rstrip('/')}/{self._suffix}" for url in self._console_urls]
