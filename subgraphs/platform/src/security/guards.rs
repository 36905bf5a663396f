//! Field guards: the authorization policy, composable with `.and()`/`.or()`.
//! A role or vertical denial is FORBIDDEN; a row of another tenant is
//! NOT_FOUND, exactly what a missing row looks like.

use async_graphql::{Context, Guard};
use uuid::Uuid;

use crate::{
    foundation::error::AppError,
    security::auth::{AuthContext, Role, Vertical},
};

/// The caller, or UNAUTHENTICATED. Resolvers use this instead of `ctx.data`.
pub fn auth<'a>(ctx: &Context<'a>) -> Result<&'a AuthContext, AppError> {
    ctx.data_opt::<AuthContext>().ok_or(AppError::Unauthenticated)
}

/// Any valid access token (user or partner).
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        auth(ctx)?;
        Ok(())
    }
}

/// A signed-in user, not a partner client.
pub struct UserOnly;

impl Guard for UserOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        auth(ctx)?.user_id().ok_or(AppError::Forbidden)?;
        Ok(())
    }
}

/// The token's session was checked against the revocation list. When Redis
/// cannot answer, sensitive writes are refused rather than allowed.
pub struct RevocationChecked;

impl Guard for RevocationChecked {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if auth(ctx)?.revocation_checked {
            Ok(())
        } else {
            Err(AppError::Unavailable("session revocation list"))?
        }
    }
}

/// At least one of the roles, in the caller's current organization.
pub struct HasRole(Vec<Role>);

impl HasRole {
    pub fn any<const N: usize>(roles: [Role; N]) -> Self {
        HasRole(roles.to_vec())
    }
}

impl Guard for HasRole {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let a = auth(ctx)?;
        if self.0.iter().any(|r| a.has_role(*r)) {
            Ok(())
        } else {
            Err(AppError::Forbidden)?
        }
    }
}

/// A partner token holding one of the scopes (e.g. `medical:read`). User
/// tokens never pass it: combine with role guards as
/// `roles.or(PartnerScope(..))`, so users keep their role checks and partners
/// reach only what their scopes allow.
pub struct PartnerScope(pub &'static [&'static str]);

impl Guard for PartnerScope {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let a = auth(ctx)?;
        if a.user_id().is_none() && a.scopes.iter().any(|s| self.0.contains(&s.as_str())) {
            Ok(())
        } else {
            Err(AppError::Forbidden)?
        }
    }
}

/// The object belongs to the caller's organization; otherwise it does not exist.
pub struct SameTenant(pub Uuid);

impl Guard for SameTenant {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if auth(ctx)?.organization_id == self.0 {
            Ok(())
        } else {
            Err(AppError::NotFound("object"))?
        }
    }
}

/// The caller's organization has the vertical enabled.
pub struct VerticalEnabled(pub Vertical);

impl Guard for VerticalEnabled {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if auth(ctx)?.has_vertical(self.0) {
            Ok(())
        } else {
            Err(AppError::Forbidden)?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::auth::Principal;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use Role::*;

    const ORG_A: Uuid = Uuid::from_u128(0xA);
    const ORG_B: Uuid = Uuid::from_u128(0xB);

    struct Query;

    #[Object]
    impl Query {
        #[graphql(guard = "Authenticated")]
        async fn authenticated(&self) -> bool {
            true
        }
        #[graphql(guard = "UserOnly")]
        async fn user_only(&self) -> bool {
            true
        }
        #[graphql(guard = "HasRole::any([Practitioner, Nurse])")]
        async fn clinical(&self) -> bool {
            true
        }
        #[graphql(guard = "SameTenant(ORG_A)")]
        async fn org_a_record(&self) -> bool {
            true
        }
        #[graphql(guard = "VerticalEnabled(Vertical::Medical)")]
        async fn medical(&self) -> bool {
            true
        }
        #[graphql(guard = "HasRole::any([Practitioner]).and(VerticalEnabled(Vertical::Medical))")]
        async fn practitioner_in_medical(&self) -> bool {
            true
        }
        #[graphql(guard = "HasRole::any([OrgAdmin]).or(HasRole::any([Auditor]))")]
        async fn admin_or_auditor(&self) -> bool {
            true
        }
        #[graphql(guard = "RevocationChecked")]
        async fn sensitive(&self) -> bool {
            true
        }
        #[graphql(guard = "HasRole::any([BillingClerk]).or(PartnerScope(&[\"medical:billing\"]))")]
        async fn billing(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn partner_scopes_open_exactly_their_fields_and_never_stand_in_for_users() {
        let mut billing_partner = caller(ORG_A, &[], &[], true);
        billing_partner.scopes = vec!["medical:billing".into()];
        assert_eq!(run("billing", Some(billing_partner)).await, "OK");
        let mut reader = caller(ORG_A, &[], &[], true);
        reader.scopes = vec!["medical:read".into()];
        assert_eq!(run("billing", Some(reader)).await, "FORBIDDEN");
        assert_eq!(
            run("billing", Some(caller(ORG_A, &[BillingClerk], &[], false))).await,
            "OK"
        );
        // A user token carrying a scope claim gains nothing from it.
        let mut user = caller(ORG_A, &[Nurse], &[], false);
        user.scopes = vec!["medical:billing".into()];
        assert_eq!(run("billing", Some(user)).await, "FORBIDDEN");
    }

    #[tokio::test]
    async fn revocation_checked_refuses_tokens_whose_session_could_not_be_checked() {
        let mut unchecked = caller(ORG_A, &[OrgAdmin], &[], false);
        unchecked.revocation_checked = false;
        assert_eq!(run("sensitive", Some(unchecked)).await, "UNAVAILABLE");
        assert_eq!(
            run("sensitive", Some(caller(ORG_A, &[OrgAdmin], &[], false))).await,
            "OK"
        );
    }

    fn caller(org: Uuid, roles: &[Role], verticals: &[Vertical], partner: bool) -> AuthContext {
        AuthContext {
            principal: if partner {
                Principal::Partner(Uuid::from_u128(9))
            } else {
                Principal::User(Uuid::from_u128(1))
            },
            organization_id: org,
            roles: roles.to_vec(),
            verticals: verticals.to_vec(),
            session_id: None,
            token_id: Uuid::from_u128(2),
            scopes: vec![],
            amr: vec![],
            revocation_checked: true,
        }
    }

    /// Returns the error code, or "OK".
    async fn run(field: &str, who: Option<AuthContext>) -> String {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let mut req = async_graphql::Request::new(format!("{{ {field} }}"));
        if let Some(a) = who {
            req = req.data(a);
        }
        let mut resp = schema.execute(req).await;
        crate::foundation::error::present_errors(&mut resp.errors, crate::foundation::i18n::Locale::En);
        match resp.errors.first() {
            None => "OK".into(),
            Some(e) => match e.extensions.as_ref().and_then(|x| x.get("code")) {
                Some(async_graphql::Value::String(s)) => s.clone(),
                other => format!("{other:?}"),
            },
        }
    }

    #[tokio::test]
    async fn authenticated_lets_in_any_token_and_refuses_anonymous_callers() {
        assert_eq!(run("authenticated", None).await, "UNAUTHENTICATED");
        assert_eq!(run("authenticated", Some(caller(ORG_A, &[], &[], false))).await, "OK");
        assert_eq!(run("authenticated", Some(caller(ORG_A, &[], &[], true))).await, "OK");
    }

    #[tokio::test]
    async fn user_only_refuses_partner_clients() {
        assert_eq!(run("userOnly", Some(caller(ORG_A, &[], &[], true))).await, "FORBIDDEN");
        assert_eq!(run("userOnly", Some(caller(ORG_A, &[], &[], false))).await, "OK");
    }

    #[tokio::test]
    async fn has_role_lets_in_any_listed_role_only() {
        assert_eq!(run("clinical", Some(caller(ORG_A, &[Nurse], &[], false))).await, "OK");
        assert_eq!(
            run("clinical", Some(caller(ORG_A, &[Secretary, BillingClerk], &[], false))).await,
            "FORBIDDEN"
        );
        assert_eq!(
            run("clinical", Some(caller(ORG_A, &[OrgAdmin], &[], false))).await,
            "FORBIDDEN"
        );
        assert_eq!(run("clinical", None).await, "UNAUTHENTICATED");
    }

    #[tokio::test]
    async fn same_tenant_makes_other_organizations_rows_look_missing() {
        assert_eq!(run("orgARecord", Some(caller(ORG_A, &[], &[], false))).await, "OK");
        assert_eq!(
            run("orgARecord", Some(caller(ORG_B, &[OrgAdmin], &[], false))).await,
            "NOT_FOUND"
        );
    }

    #[tokio::test]
    async fn vertical_enabled_requires_the_vertical_on_the_organization() {
        assert_eq!(
            run("medical", Some(caller(ORG_A, &[], &[Vertical::Medical], false))).await,
            "OK"
        );
        assert_eq!(
            run("medical", Some(caller(ORG_A, &[], &[Vertical::Public], false))).await,
            "FORBIDDEN"
        );
    }

    #[tokio::test]
    async fn guards_compose_with_and_and_or() {
        let med = [Vertical::Medical];
        assert_eq!(
            run(
                "practitionerInMedical",
                Some(caller(ORG_A, &[Practitioner], &med, false))
            )
            .await,
            "OK"
        );
        assert_eq!(
            run(
                "practitionerInMedical",
                Some(caller(ORG_A, &[Practitioner], &[], false))
            )
            .await,
            "FORBIDDEN"
        );
        assert_eq!(
            run("practitionerInMedical", Some(caller(ORG_A, &[Nurse], &med, false))).await,
            "FORBIDDEN"
        );
        assert_eq!(
            run("adminOrAuditor", Some(caller(ORG_A, &[Auditor], &[], false))).await,
            "OK"
        );
        assert_eq!(
            run("adminOrAuditor", Some(caller(ORG_A, &[OrgAdmin], &[], false))).await,
            "OK"
        );
        assert_eq!(
            run("adminOrAuditor", Some(caller(ORG_A, &[Nurse], &[], false))).await,
            "FORBIDDEN"
        );
    }
}
