//! What no request cleans up: the sweep of broken uploads and the purge of
//! files past their time, run as the kit's background job (one per
//! process that has `HUB_SERVER__BACKGROUND_JOBS`) or by tests directly.

use super::*;

/// Removes what broken uploads and crashes left: versions whose upload URL
/// expired (plus a grace period for uploads still streaming) lose their
/// bytes, then their row. Returns how many were swept.
pub async fn sweep(st: &State) -> Result<usize, AppError> {
    let grace = "15 minutes";
    let rows: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("select organization_id, id, storage_key from expired_uploads($1::interval, 500)")
            .bind(grace)
            .fetch_all(&st.pool)
            .await?;
    let mut swept = 0;
    for (_, id, key) in rows {
        match st.store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(error = %e, %key, "sweep could not delete bytes");
                continue;
            }
        }
        let forgot: bool = sqlx::query_scalar("select forget_upload($1, $2::interval)")
            .bind(id)
            .bind(grace)
            .fetch_one(&st.pool)
            .await?;
        swept += usize::from(forgot);
    }
    if swept > 0 {
        tracing::info!(swept, "swept expired uploads");
    }
    Ok(swept)
}

/// What [`purge`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Documents gone with their versions and bytes.
    pub documents: usize,
    /// User data export archives gone once their link had expired.
    pub exports: usize,
}

/// Deletes the files nothing may keep any longer: deleted documents past
/// their retention date (at once without one), documents past `expires_at`
/// (data export archives), and user export archives whose download link
/// has expired. Bytes go first, then rows: an object that cannot be
/// deleted keeps its row, and the next purge tries again.
pub async fn purge(st: &State, now: chrono::DateTime<chrono::Utc>) -> Result<Purged, AppError> {
    let rows: Vec<(Uuid, Uuid, Option<String>)> =
        sqlx::query_as("select organization_id, id, storage_key from purgeable_documents($1, 200)")
            .bind(now)
            .fetch_all(&st.pool)
            .await?;
    let mut failed = std::collections::HashSet::new();
    let mut due = std::collections::BTreeSet::new();
    for (_, doc, key) in rows {
        due.insert(doc);
        let Some(key) = key else { continue };
        match st.store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(error = %e, %key, "purge could not delete bytes");
                failed.insert(doc);
            }
        }
    }
    let mut purged = Purged::default();
    for doc in due.into_iter().filter(|d| !failed.contains(d)) {
        let forgot: bool = sqlx::query_scalar("select forget_document($1, $2)")
            .bind(doc)
            .bind(now)
            .fetch_one(&st.pool)
            .await?;
        purged.documents += usize::from(forgot);
    }
    // A user's export is only reachable through its signed link: once the
    // link expired (and a grace for a download still streaming), it goes.
    let ttl = i64::try_from(st.content.download_url_ttl_secs).unwrap_or(i64::MAX / 2);
    let cutoff = now - chrono::Duration::seconds(ttl) - chrono::Duration::minutes(15);
    let mut listed = st.store.list(Some(&Path::from(crate::export::USER_EXPORTS)));
    while let Some(meta) = listed.next().await {
        let meta = meta.map_err(|e| AppError::Internal(anyhow::anyhow!("listing exports: {e}")))?;
        if meta.last_modified >= cutoff {
            continue;
        }
        match st.store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => purged.exports += 1,
            Err(e) => tracing::warn!(error = %e, key = %meta.location, "purge could not delete an export"),
        }
    }
    if purged != Purged::default() {
        tracing::info!(
            documents = purged.documents,
            exports = purged.exports,
            "purged expired files"
        );
    }
    Ok(purged)
}

/// Sweeps and purges every `sweep_interval_secs`, until the process stops.
pub async fn sweep_forever(st: Arc<State>) {
    let mut tick = tokio::time::interval(Duration::from_secs(st.content.sweep_interval_secs));
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&st).await {
            tracing::warn!(error = %e, "upload sweep failed");
        }
        if let Err(e) = purge(&st, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "file purge failed");
        }
    }
}
