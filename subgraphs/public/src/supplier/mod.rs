//! Supplier profiles and their compliance documents.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Object, Result, ID,
};
use platform::lists::list_page;
use platform::{
    guards::auth,
    ids::{parse_id, parse_key},
    mutation::{mutate, Audit},
    scalars::Date,
    validate::{optional_text, text},
    AppError, OnConstraint,
    Role::*,
};
use serde_json::json;

use crate::{
    access::{public, public_write, require, MEMBERS},
    Loaded,
};
use db::SupplierCursor;
use loader::{SupplierLoader, SupplierOfOrgLoader};
use model::{CertificationLevel, ComplianceDocumentKind, ComplianceDocumentView, Supplier};

/// The caller's organization's registration as a supplier.
#[derive(InputObject)]
pub struct RegisterSupplierInput {
    /// The name the organization contracts under.
    pub legal_name: String,
    /// Registration in the trade register.
    pub registration_number: String,
    /// Read only by the supplier and buyers' procurement officers.
    pub tax_id: String,
    /// How far the supplier was vetted.
    pub certification_level: CertificationLevel,
}

/// A compliance document (certificate, attestation) of the caller's supplier profile, with its validity.
#[derive(InputObject)]
pub struct AddComplianceDocumentInput {
    /// What the document attests.
    pub kind: ComplianceDocumentKind,
    /// Its name, e.g. the issuing body's title for it.
    pub title: String,
    /// Last day the document is valid.
    pub expires_on: Date,
}

#[derive(Default)]
pub struct SupplierQuery;

#[Object]
impl SupplierQuery {
    /// Supplier profiles, by legal name.
    #[graphql(guard = "public(MEMBERS)")]
    async fn suppliers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Words in the legal name or registration number.")] search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<SupplierCursor>, Supplier>> {
        let search = optional_text("search", search.as_deref(), 100)?;
        list_page(
            ctx,
            first,
            after,
            async |c, after, n| db::page(c, search.as_deref(), after, n).await,
            |s| SupplierCursor {
                legal_name: s.legal_name.clone(),
                id: s.id,
            },
            |s| s,
        )
        .await
    }

    /// One supplier profile.
    #[graphql(guard = "public(MEMBERS)")]
    async fn supplier(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Supplier>> {
        let id = parse_id("id", &id)?;
        Ok(ctx.data::<Loaded<SupplierLoader>>()?.load_one(id).await?)
    }

    /// The caller's organization's supplier profile, if it registered one.
    #[graphql(guard = "public(MEMBERS)")]
    async fn my_supplier_profile(&self, ctx: &Context<'_>) -> Result<Option<Supplier>> {
        let org = auth(ctx)?.organization_id;
        Ok(ctx.data::<Loaded<SupplierOfOrgLoader>>()?.load_one(org).await?)
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_supplier_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Supplier>> {
        require(ctx, &MEMBERS)?;
        let Some(id) = parse_key(&id) else { return Ok(None) };
        Ok(ctx.data::<Loaded<SupplierLoader>>()?.load_one(id).await?)
    }
}

fn already_registered() -> AppError {
    AppError::Conflict("this organization already has a supplier profile".into())
}

#[derive(Default)]
pub struct SupplierMutation;

#[Object]
impl SupplierMutation {
    /// Creates the caller's organization's supplier profile (one per organization).
    #[graphql(guard = "public_write([SupplierAdmin])")]
    async fn register_supplier(&self, ctx: &Context<'_>, input: RegisterSupplierInput) -> Result<Supplier> {
        let org = auth(ctx)?.organization_id;
        let legal_name = text("legalName", &input.legal_name, 1, 200)?;
        let registration_number = text("registrationNumber", &input.registration_number, 1, 50)?;
        let tax_id = text("taxId", &input.tax_id, 1, 50)?;
        let new = db::NewSupplier {
            legal_name: &legal_name,
            registration_number: &registration_number,
            tax_id: &tax_id,
            certification_level: input.certification_level.as_db(),
        };
        Ok(mutate(ctx, async |tx| {
            let supplier = db::insert(tx, org, &new)
                .await
                .on_constraint(&[("suppliers_org_key", already_registered)])?;
            let audit = Audit::new("supplier.register", "Supplier", supplier.id)
                .details(json!({ "registrationNumber": supplier.registration_number }));
            Ok((supplier, audit))
        })
        .await?)
    }

    /// Adds a compliance document to the caller's supplier profile.
    #[graphql(guard = "public_write([SupplierAdmin])")]
    async fn add_compliance_document(
        &self,
        ctx: &Context<'_>,
        input: AddComplianceDocumentInput,
    ) -> Result<ComplianceDocumentView> {
        let org = auth(ctx)?.organization_id;
        let title = text("title", &input.title, 1, 200)?;
        Ok(mutate(ctx, async |tx| {
            let Some(supplier) = db::by_organizations(tx, &[org]).await?.pop() else {
                return Err(AppError::Conflict("register the supplier profile first".into()));
            };
            let doc = db::add_document(tx, org, supplier.id, input.kind.as_db(), &title, input.expires_on.0).await?;
            let audit = Audit::new("supplier.document.add", "Supplier", supplier.id)
                .details(json!({ "kind": input.kind.as_db(), "expiresOn": doc.expires_on }));
            Ok((ComplianceDocumentView(doc), audit))
        })
        .await?)
    }
}
