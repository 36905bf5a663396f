//! Demo documents: filled in below.
use platform::kit::Runtime;
use sqlx::PgConnection;

pub async fn seed(_conn: &mut PgConnection, _rt: &Runtime) -> anyhow::Result<()> {
    Ok(())
}
