use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use platform::{db::group_by, reads::LoaderCtx, AppError};
use uuid::Uuid;

use super::{
    db,
    model::{Classification, Document, DocumentVersion},
};
use crate::access;

/// Documents by id, in the classifications the caller reads.
pub struct DocumentLoader(pub LoaderCtx);

impl Loader<Uuid> for DocumentLoader {
    type Value = Document;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Document>, Self::Error> {
        let readable = access::readable_in(&self.0.scope.roles, &self.0.scope.verticals);
        let rows = self
            .0
            .run("DocumentLoader", async |c| db::by_ids(c, keys, &readable).await)
            .await?;
        Ok(rows.into_iter().map(|d| (d.id, d)).collect())
    }
}

platform::loaders! {
    /// A document's versions, newest first.
    pub struct VersionsLoader: Vec<DocumentVersion> = grouped(|v| v.document_id) from db::versions;
}

/// One page of an owner's documents. Keys of one request usually share the
/// page (a list of patients each asking `documents(first: 5)`): one
/// statement per distinct page, whatever the number of owners.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OwnerPage {
    pub owner: Uuid,
    /// The organization the router says owns it, when it may show other
    /// organizations' documents (a published tender's buyer, a supplier's organization).
    pub vouched_by: Option<Uuid>,
    pub classes: Vec<Classification>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub fetch: i64,
}

pub struct OwnerDocumentsLoader(pub LoaderCtx);

impl Loader<OwnerPage> for OwnerDocumentsLoader {
    type Value = Vec<Document>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[OwnerPage]) -> Result<HashMap<OwnerPage, Vec<Document>>, Self::Error> {
        type Shape = (Vec<Classification>, Option<(DateTime<Utc>, Uuid)>, i64);
        let mut shapes: HashMap<Shape, Vec<&OwnerPage>> = HashMap::new();
        for k in keys {
            shapes.entry((k.classes.clone(), k.after, k.fetch)).or_default().push(k);
        }
        let vouched: Vec<(Uuid, Uuid)> = keys.iter().filter_map(|k| k.vouched_by.map(|o| (o, k.owner))).collect();
        let mut out = HashMap::new();
        for ((classes, after, fetch), pages) in shapes {
            let owners: Vec<Uuid> = pages.iter().map(|p| p.owner).collect();
            let rows = self
                .0
                .run("OwnerDocumentsLoader", async |c| {
                    if !vouched.is_empty() {
                        db::vouch(c, &vouched).await?;
                    }
                    db::of_owners(c, &owners, &classes, after, fetch).await
                })
                .await?;
            let mut by_owner = group_by(&owners, rows, |d| d.owner_id);
            for p in pages {
                let docs: Vec<Document> = by_owner
                    .remove(&p.owner)
                    .unwrap_or_default()
                    .into_iter()
                    // A document another organization attached to an id it
                    // does not own is not the owner's: only the vouched
                    // organization's documents show to outsiders.
                    .filter(|d| {
                        d.organization_id == self.0.scope.organization_id || Some(d.organization_id) == p.vouched_by
                    })
                    .collect();
                out.insert(p.clone(), docs);
            }
        }
        Ok(out)
    }
}
