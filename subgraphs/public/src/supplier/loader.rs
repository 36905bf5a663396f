use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{
    db::{group_by, LoaderCtx},
    AppError,
};
use uuid::Uuid;

use super::{
    db,
    model::{ComplianceDocument, ComplianceStatus, Supplier},
};

pub struct SupplierLoader(pub LoaderCtx);

impl Loader<Uuid> for SupplierLoader {
    type Value = Supplier;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Supplier>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|s| (s.id, s)).collect())
    }
}

/// A supplier profile by its organization's id.
pub struct SupplierOfOrgLoader(pub LoaderCtx);

impl Loader<Uuid> for SupplierOfOrgLoader {
    type Value = Supplier;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Supplier>, Self::Error> {
        let rows = self.0.run(async |c| db::by_organizations(c, keys).await).await?;
        Ok(rows.into_iter().map(|s| (s.organization_id, s)).collect())
    }
}

/// Tax ids the caller may read (RLS), by supplier id.
pub struct TaxIdLoader(pub LoaderCtx);

impl Loader<Uuid> for TaxIdLoader {
    type Value = String;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, String>, Self::Error> {
        Ok(self
            .0
            .run(async |c| db::tax_ids(c, keys).await)
            .await?
            .into_iter()
            .collect())
    }
}

pub struct DocumentsLoader(pub LoaderCtx);

impl Loader<Uuid> for DocumentsLoader {
    type Value = Vec<ComplianceDocument>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<ComplianceDocument>>, Self::Error> {
        let rows = self.0.run(async |c| db::documents(c, keys).await).await?;
        Ok(group_by(keys, rows, |d| d.supplier_id))
    }
}

pub struct ComplianceLoader(pub LoaderCtx);

impl Loader<Uuid> for ComplianceLoader {
    type Value = ComplianceStatus;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, ComplianceStatus>, Self::Error> {
        Ok(self
            .0
            .run(async |c| db::compliance(c, keys).await)
            .await?
            .into_iter()
            .collect())
    }
}
