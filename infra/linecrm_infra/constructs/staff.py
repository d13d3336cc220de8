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
        callback_urls: Sequence[str],
        logout_urls: Sequence[str],
        domain_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
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
        self.console_client = self.user_pool.add_client(
            "ConsoleClient",
            # A browser app: no secret; the authorization code flow uses PKCE.
            generate_secret=False,
            # The console's sign-in form: USER_PASSWORD_AUTH over TLS to Cognito (the
            # password never reaches our functions); SRP for other clients.
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=list(callback_urls),
                logout_urls=list(logout_urls),
            ),
            prevent_user_existence_errors=True,
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
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

    def grant_staff_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        """The staff users API: list, invite, change role, disable (this pool only)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(STAFF_ADMIN_ACTIONS),
            resource_arns=[self.user_pool.user_pool_arn],
        )
