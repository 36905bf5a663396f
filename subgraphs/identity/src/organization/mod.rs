//! Organizations: lookup, the `Organization` entity, and creation by platform admins.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{Context, InputObject, Object, Result, ID};
use platform::{
    audit::{self, actor},
    db::Loaded,
    db::{Scope, TenantTx},
    guards::{auth, Authenticated, HasRole, RevocationChecked},
    ids::{parse_id, parse_key},
    AppError, OnConstraint, Role, Vertical,
};

use crate::{member, state};
use loader::OrganizationLoader;
use model::Organization;

#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// An organization by id. Any signed-in caller may read its name and slug.
    #[graphql(guard = "Authenticated")]
    async fn organization(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Organization>> {
        let id = parse_id("id", &id)?;
        Ok(ctx.data::<Loaded<OrganizationLoader>>()?.load_one(id).await?)
    }

    /// The organization the caller's token is scoped to.
    #[graphql(guard = "Authenticated")]
    async fn current_organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        let org = auth(ctx)?.organization_id;
        ctx.data::<Loaded<OrganizationLoader>>()?
            .load_one(org)
            .await?
            .ok_or_else(|| AppError::NotFound("organization").into())
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_organization_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Organization>> {
        auth(ctx)?;
        let Some(id) = parse_key(&id) else {
            return Ok(None);
        };
        Ok(ctx.data::<Loaded<OrganizationLoader>>()?.load_one(id).await?)
    }
}

/// A new organization and its first administrator's invitation.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// Lowercase letters, digits and dashes, 2 to 63 characters.
    pub slug: String,
    pub name: String,
    pub verticals: Vec<Vertical>,
    /// Invited as the organization's first `ORG_ADMIN`.
    pub admin_email: String,
}

#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Creates an organization and invites its first administrator (platform admins only).
    #[graphql(guard = "HasRole::any([Role::PlatformAdmin]).and(RevocationChecked)")]
    async fn create_organization(&self, ctx: &Context<'_>, input: CreateOrganizationInput) -> Result<Organization> {
        let caller = auth(ctx)?;
        let st = state(ctx)?;
        let slug = input.slug.trim().to_string();
        if !valid_slug(&slug) {
            return Err(AppError::bad_input("slug", "use 2 to 63 lowercase letters, digits or dashes").into());
        }
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::bad_input("name", "must be 1 to 200 characters").into());
        }
        let email = member::normalize_email(&input.admin_email)?;
        let mut verticals: Vec<String> = input.verticals.iter().map(|v| v.as_str().to_string()).collect();
        verticals.sort();
        verticals.dedup();

        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let org = db::insert(&mut tx, &slug, &name, &verticals)
            .await
            .on_constraint(&[("organizations_slug_key", || {
                AppError::Conflict("this slug is taken".into())
            })])?;
        // The new tenant's first rows are written in its own scope, atomically.
        tx.rescope(&Scope {
            organization_id: org.id,
            user_id: caller.user_id(),
            roles: caller.roles.clone(),
            ..Default::default()
        })
        .await?;
        let mut actor = actor(ctx)?;
        actor.organization_id = org.id;
        audit::record(
            &mut tx,
            &actor,
            "organization.create",
            "Organization",
            org.id,
            serde_json::json!({ "slug": slug }),
        )
        .await?;
        let locale = ctx.data_opt::<platform::i18n::Locale>().copied().unwrap_or_default();
        member::create_invitation(&mut tx, st, &actor, &org, &email, &[Role::OrgAdmin], locale).await?;
        tx.commit().await?;
        Ok(org)
    }
}

pub fn valid_slug(slug: &str) -> bool {
    let n = slug.len();
    (2..=63).contains(&n)
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
}
