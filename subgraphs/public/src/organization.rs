//! identity's `Organization`, extended with its supplier profile.

use async_graphql::{Context, Object, Result, ID};
use platform::{guards::auth, ids::parse_key};
use uuid::Uuid;

use crate::{
    access::{public, MEMBERS},
    supplier::{loader::SupplierOfOrgLoader, model::Supplier},
    Loaded,
};

/// An organization of Hub (owned by the identity subgraph).
pub struct Organization {
    pub id: Uuid,
}

#[Object]
impl Organization {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Its supplier profile, if it registered as a supplier. Nullable on
    /// purpose: if the public subgraph fails, the rest of the organization arrives.
    #[graphql(guard = "public(MEMBERS)")]
    async fn supplier_profile(&self, ctx: &Context<'_>) -> Result<Option<Supplier>> {
        Ok(ctx.data::<Loaded<SupplierOfOrgLoader>>()?.load_one(self.id).await?)
    }
}

#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// Organizations are identity's; this subgraph only adds `supplierProfile` (guarded there).
    #[graphql(entity)]
    async fn find_organization_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Organization>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| Organization { id }))
    }
}
