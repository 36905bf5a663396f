use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use platform::{
    db::{group_by, LoaderCtx},
    AppError,
};
use uuid::Uuid;

use super::{
    db,
    model::{Invoice, InvoiceLine},
};

pub struct InvoiceLinesLoader(pub LoaderCtx);

impl Loader<Uuid> for InvoiceLinesLoader {
    type Value = Vec<InvoiceLine>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<InvoiceLine>>, Self::Error> {
        let rows = self.0.run(async |c| db::lines_of(c, keys).await).await?;
        Ok(group_by(keys, rows, |l| l.invoice_id))
    }
}

pub struct InvoicesByPatientLoader(pub LoaderCtx);

impl Loader<Uuid> for InvoicesByPatientLoader {
    type Value = Vec<Invoice>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Invoice>>, Self::Error> {
        let rows = self.0.run(async |c| db::of_patients(c, keys).await).await?;
        Ok(group_by(keys, rows, |i| i.patient_id))
    }
}

pub struct InvoiceLoader(pub LoaderCtx);

impl Loader<Uuid> for InvoiceLoader {
    type Value = Invoice;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Invoice>, Self::Error> {
        let rows = self.0.run(async |c| db::by_ids(c, keys).await).await?;
        Ok(rows.into_iter().map(|i| (i.id, i)).collect())
    }
}
