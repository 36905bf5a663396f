//! Entities other subgraphs own, extended with their `documents`. Tender
//! and Supplier documents may belong to another organization than the
//! caller's (a published tender's specifications, a supplier's
//! certificates): the router sends what the owning subgraph showed the
//! caller (`@requires`), and only then are the owner's organization's
//! documents vouched for in the read transaction.

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Any, Context, Object, Result, ID,
};
use chrono::{DateTime, Utc};
use platform::{access as platform_access, guards::auth, ids::parse_key, pagination::Page, Vertical};
use uuid::Uuid;

use crate::{
    access,
    document::{
        loader::{OwnerDocumentsLoader, OwnerPage},
        model::{Classification, Document},
    },
    Loaded,
};

type Cursor = (DateTime<Utc>, Uuid);
pub type DocumentConnection = Connection<OpaqueCursor<Cursor>, Document>;

async fn documents(
    ctx: &Context<'_>,
    owner: Uuid,
    vouched_by: Option<Uuid>,
    first: Option<i32>,
    after: Option<String>,
    classification: Option<Classification>,
) -> Result<DocumentConnection> {
    let a = auth(ctx)?;
    let page = Page::<Cursor>::new(first, after.as_deref(), 50)?;
    let classes: Vec<Classification> = access::readable(a)
        .into_iter()
        .filter(|c| classification.is_none_or(|f| f == *c))
        .collect();
    let key = OwnerPage {
        owner,
        vouched_by,
        classes,
        after: page.after,
        fetch: page.fetch(),
    };
    let rows = if key.classes.is_empty() {
        vec![]
    } else {
        ctx.data::<Loaded<OwnerDocumentsLoader, OwnerPage>>()?
            .load_one(key)
            .await?
            .unwrap_or_default()
    };
    Ok(page.connection(rows, |d| (d.created_at, d.id), |d| d))
}

/// An `id` from a representation's nested entity (`buyer { id }`).
fn nested_id(v: &Option<Any>) -> Option<Uuid> {
    match v.as_ref().map(|a| &a.0) {
        Some(async_graphql::Value::Object(o)) => match o.get("id") {
            Some(async_graphql::Value::String(s)) => s.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// A patient (medical subgraph).
pub struct Patient {
    pub id: Uuid,
}

#[Object]
impl Patient {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The patient's documents the caller's role reads: clinical ones for
    /// practitioners and nurses, administrative ones for every medical role
    /// and the practice's administrators.
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        classification: Option<Classification>,
    ) -> Result<Option<DocumentConnection>> {
        platform_access::require(ctx, Vertical::Medical, &access::ADMINISTRATIVE_READERS)?;
        documents(ctx, self.id, None, first, after, classification)
            .await
            .map(Some)
    }
}

/// A tender (public subgraph).
pub struct Tender {
    pub id: Uuid,
    pub published_at: Option<DateTime<Utc>>,
    pub buyer: Option<Uuid>,
}

#[Object]
impl Tender {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    #[graphql(external)]
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.published_at
    }

    #[graphql(external)]
    async fn buyer(&self) -> Option<Organization> {
        // External: the router asks the public subgraph, never this one.
        Some(Organization {
            id: self.buyer.unwrap_or_default(),
        })
    }

    /// The tender's documents: its buyer's staff read them all, every
    /// organization of the public vertical the public ones once it is published.
    #[graphql(requires = "publishedAt buyer { id }")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        classification: Option<Classification>,
    ) -> Result<Option<DocumentConnection>> {
        platform_access::require(ctx, Vertical::Public, &access::PUBLIC_MEMBERS)?;
        let vouched = self.published_at.and(self.buyer);
        documents(ctx, self.id, vouched, first, after, classification)
            .await
            .map(Some)
    }
}

/// A contract (public subgraph).
pub struct Contract {
    pub id: Uuid,
}

#[Object]
impl Contract {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The buyer's contract files (its procurement staff, administrators and auditors).
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        classification: Option<Classification>,
    ) -> Result<Option<DocumentConnection>> {
        platform_access::require(ctx, Vertical::Public, &access::BUYER_READERS)?;
        documents(ctx, self.id, None, first, after, classification)
            .await
            .map(Some)
    }
}

/// A supplier profile (public subgraph).
pub struct Supplier {
    pub id: Uuid,
    pub organization: Option<Uuid>,
}

#[Object]
impl Supplier {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    #[graphql(external)]
    async fn organization(&self) -> Option<Organization> {
        // External: the router asks the public subgraph, never this one.
        Some(Organization {
            id: self.organization.unwrap_or_default(),
        })
    }

    /// The supplier's compliance certificates: its own staff, administrators
    /// and auditors, and buyers' procurement officers.
    #[graphql(requires = "organization { id }")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        classification: Option<Classification>,
    ) -> Result<Option<DocumentConnection>> {
        platform_access::require(ctx, Vertical::Public, &access::COMPLIANCE_READERS)?;
        documents(ctx, self.id, self.organization, first, after, classification)
            .await
            .map(Some)
    }
}

/// An organization (identity subgraph), as tenders and suppliers name it.
pub struct Organization {
    pub id: Uuid,
}

/// An organization (identity subgraph): a tenant of the platform.
#[Object]
impl Organization {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
}

#[derive(Default)]
pub struct OwnerQuery;

#[Object]
impl OwnerQuery {
    #[graphql(entity)]
    async fn find_patient_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Patient>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| Patient { id }))
    }

    #[graphql(entity)]
    async fn find_tender_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
        published_at: Option<DateTime<Utc>>,
        buyer: Option<Any>,
    ) -> Result<Option<Tender>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| Tender {
            id,
            published_at,
            buyer: nested_id(&buyer),
        }))
    }

    #[graphql(entity)]
    async fn find_contract_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contract>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| Contract { id }))
    }

    #[graphql(entity)]
    async fn find_supplier_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
        organization: Option<Any>,
    ) -> Result<Option<Supplier>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| Supplier {
            id,
            organization: nested_id(&organization),
        }))
    }

    #[graphql(entity)]
    async fn find_organization_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Organization>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| Organization { id }))
    }
}
