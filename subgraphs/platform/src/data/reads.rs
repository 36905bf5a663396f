//! Where a request's reads go. With `HUB_DATABASE__READ_URL` set, read
//! transactions (queries, loaders, FHIR reads, OCDS) open on a streaming
//! replica; writes, the outbox relay, advisory locks, migrations and the
//! audit trail keep the primary (they never come here).
//!
//! Read-your-writes: a caller who has just written reads the primary for a
//! short window (`database.read_your_writes_ms`), recorded in Redis so every
//! instance of every subgraph knows it. Whenever that cannot be known (Redis
//! down), the caller reads the primary: stale answers are never the
//! fallback, only extra load on the primary.
//!
//! A replica that cannot open a transaction (stopped, restarting, too many
//! connections) is left alone for a few seconds and reads go to the
//! primary, with a warning and `hub_db_replica_fallbacks_total`: the
//! replica is capacity, not a dependency.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prometheus::{IntCounter, IntCounterVec, Opts};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use crate::{
    data::db::{Scope, TenantTx},
    foundation::{
        config::DatabaseSettings,
        error::{AppError, AppResult},
    },
    infra::kv::Kv,
    security::auth::AuthContext,
};

/// How long a failed replica is left alone before it is tried again.
const REPLICA_BACKOFF: Duration = Duration::from_secs(5);

/// The primary, and the replica reads may go to.
pub struct ReadPools {
    primary: PgPool,
    replica: Option<PgPool>,
    kv: Kv,
    window: Duration,
    down_until: Mutex<Option<Instant>>,
    /// Read transactions opened, by `server` (primary, replica).
    pub transactions: IntCounterVec,
    /// Reads meant for the replica that went to the primary because it failed.
    pub fallbacks: IntCounter,
}

/// Which server a read transaction was opened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Primary,
    Replica,
}

impl Server {
    pub fn as_str(self) -> &'static str {
        match self {
            Server::Primary => "primary",
            Server::Replica => "replica",
        }
    }
}

impl ReadPools {
    pub fn new(primary: PgPool, settings: &DatabaseSettings, kv: Kv) -> anyhow::Result<Self> {
        let replica = settings
            .read_options()?
            .map(|opts| crate::data::db::pool_with(settings, opts, "read"));
        Ok(ReadPools {
            primary,
            replica,
            kv,
            window: Duration::from_millis(settings.read_your_writes_ms),
            down_until: Mutex::default(),
            transactions: IntCounterVec::new(
                Opts::new("db_read_transactions_total", "Read transactions opened, by server"),
                &["server"],
            )?,
            fallbacks: IntCounter::new(
                "db_replica_fallbacks_total",
                "Read transactions meant for the read replica opened on the primary because the replica failed",
            )?,
        })
    }

    pub fn primary(&self) -> &PgPool {
        &self.primary
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Whether this caller's reads must go to the primary: they wrote within
    /// the window, or Redis cannot say they did not.
    pub async fn pinned(&self, caller: Option<&AuthContext>) -> bool {
        let Some(caller) = caller.filter(|_| self.replica.is_some()) else {
            return false;
        };
        match self
            .kv
            .reads_pinned(caller.organization_id, caller.principal_id())
            .await
        {
            Ok(pinned) => pinned,
            Err(e) => {
                tracing::debug!(reason = %e, "read-your-writes unknown (Redis): reading the primary");
                true
            }
        }
    }

    /// Records that this caller has just written: their reads go to the
    /// primary until the replica has had time to replay it.
    pub async fn wrote(&self, caller: &AuthContext) {
        if self.replica.is_none() {
            return;
        }
        if let Err(e) = self
            .kv
            .pin_reads(caller.organization_id, caller.principal_id(), self.window)
            .await
        {
            // The caller's next reads find Redis down too, and read the primary.
            tracing::warn!(reason = %e, "could not record a write for read-your-writes (Redis)");
        }
    }

    /// A scoped read transaction: on the replica unless `primary` is asked
    /// for, there is none, or it just failed.
    pub async fn begin(&self, scope: &Scope, primary: bool) -> AppResult<(TenantTx, Server)> {
        if let Some(replica) = self.replica.as_ref().filter(|_| !primary && self.replica_up()) {
            match TenantTx::begin_scoped(replica, scope).await {
                Ok(tx) => {
                    self.transactions.with_label_values(&["replica"]).inc();
                    return Ok((tx, Server::Replica));
                }
                Err(e) => {
                    if let Ok(mut d) = self.down_until.lock() {
                        *d = Some(Instant::now() + REPLICA_BACKOFF);
                    }
                    self.fallbacks.inc();
                    tracing::warn!(
                        error = %crate::foundation::error::error_chain(&e),
                        retry_in_secs = REPLICA_BACKOFF.as_secs(),
                        "the read replica failed: reading from the primary"
                    );
                }
            }
        }
        let tx = TenantTx::begin_scoped(&self.primary, scope).await?;
        self.transactions.with_label_values(&["primary"]).inc();
        Ok((tx, Server::Primary))
    }

    /// A read transaction for a caller outside GraphQL (FHIR, REST): the
    /// replica unless they have just written.
    pub async fn begin_for(&self, caller: &AuthContext) -> AppResult<TenantTx> {
        let primary = self.pinned(Some(caller)).await;
        Ok(self.begin(&Scope::from(caller), primary).await?.0)
    }

    fn replica_up(&self) -> bool {
        self.down_until
            .lock()
            .map(|d| d.is_none_or(|t| Instant::now() >= t))
            .unwrap_or(true)
    }
}

/// A request's reads: where they go ([`ReadPools`]: the replica if there is
/// one, unless the request writes or its caller just did), the caller's
/// scope, and one read transaction shared by every read of the request (its
/// list queries and all its loader batches), opened on the first read. One `BEGIN` + scope
/// per request instead of one per batch; it is never committed (it writes
/// nothing) and rolls back when the request's data is dropped. Writes keep
/// their own transactions (`mutate`, `TenantTx`), so a failed write never
/// touches it. Reads of one request run one after another on it.
#[derive(Clone)]
pub struct LoaderCtx {
    reads: Arc<ReadPools>,
    pub scope: Scope,
    primary: bool,
    tx: Arc<tokio::sync::Mutex<Option<(TenantTx, Server)>>>,
}

impl LoaderCtx {
    /// `primary`: the request writes, or its caller has just written, and
    /// must see it.
    pub fn new(reads: Arc<ReadPools>, scope: Scope, primary: bool) -> Self {
        LoaderCtx {
            reads,
            scope,
            primary,
            tx: Arc::default(),
        }
    }

    /// The server the request's reads went to (`None` before the first).
    pub async fn server(&self) -> Option<Server> {
        self.tx.lock().await.as_ref().map(|(_, s)| *s)
    }

    /// Runs a read named `what` (a loader, a list: the name its trace span
    /// carries, never its values) in the request's transaction. After a
    /// failed read the transaction is dropped (PostgreSQL aborted it) and
    /// the next read opens a new one.
    pub async fn run<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&mut PgConnection) -> AppResult<T>,
    ) -> Result<T, Arc<AppError>> {
        let span = tracing::info_span!(
            "db.read",
            otel.name = %format_args!("read {what}"),
            otel.kind = "client",
            db.system.name = "postgresql",
            db.operation.name = %what,
            db.server = tracing::field::Empty,
        );
        async {
            let mut slot = self.tx.lock().await;
            let (tx, server) = match slot.as_mut() {
                Some(tx) => tx,
                None => slot.insert(self.reads.begin(&self.scope, self.primary).await?),
            };
            tracing::Span::current().record("db.server", server.as_str());
            match f(tx).await {
                Ok(v) => Ok(v),
                Err(e) => {
                    *slot = None;
                    Err(Arc::new(e))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The request's `LoaderCtx`, for root resolvers that read lists.
    pub fn of<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a LoaderCtx, AppError> {
        ctx.data::<LoaderCtx>().map_err(|_| {
            AppError::Internal(anyhow::anyhow!(
                "request reads (LoaderCtx) missing from the request data"
            ))
        })
    }
}

/// Declares per-request batch loaders over `uuid::Uuid` keys, each one
/// statement per batch in the request's read transaction ([`LoaderCtx`]):
///
/// ```ignore
/// platform::loaders! {
///     /// A patient by id.
///     pub struct PatientLoader: Patient = one(|p| p.id) from db::by_ids;
///     /// A patient's allergies (every key gets a list, maybe empty).
///     pub struct AllergiesLoader: Vec<Allergy> = grouped(|a| a.patient_id) from db::allergies_of;
///     /// `(key, value)` rows as they come.
///     pub struct TaxIdLoader: String = pairs from db::tax_ids;
/// }
/// ```
///
/// `from` names an `async fn(&mut PgConnection, &[Uuid]) -> AppResult<Vec<Row>>`;
/// a loader that needs more than that is written out by hand.
#[macro_export]
macro_rules! loaders {
    ($( $(#[$meta:meta])* $vis:vis struct $name:ident: $value:ty = $kind:ident $(($key:expr))? from $fetch:path; )*) => {
        $( $crate::loaders!(@impl [$(#[$meta])*] $vis $name, $value, $kind, [$($key)?], $fetch); )*
    };
    (@impl [$($meta:tt)*] $vis:vis $name:ident, $value:ty, $kind:ident, [$($key:expr)?], $fetch:path) => {
        $($meta)*
        $vis struct $name(pub $crate::data::reads::LoaderCtx);

        impl $crate::data::db::Loader<$crate::data::db::Uuid> for $name {
            type Value = $value;
            type Error = ::std::sync::Arc<$crate::foundation::error::AppError>;

            async fn load(
                &self,
                keys: &[$crate::data::db::Uuid],
            ) -> ::std::result::Result<::std::collections::HashMap<$crate::data::db::Uuid, $value>, Self::Error> {
                let rows = self.0.run(stringify!($name), async |c| $fetch(c, keys).await).await?;
                Ok($crate::loaders!(@collect $kind, keys, rows, [$($key)?]))
            }
        }
    };
    (@collect one, $keys:ident, $rows:ident, [$key:expr]) => { $crate::data::db::keyed($rows, $key) };
    (@collect grouped, $keys:ident, $rows:ident, [$key:expr]) => { $crate::data::db::group_by($keys, $rows, $key) };
    (@collect pairs, $keys:ident, $rows:ident, []) => { $rows.into_iter().collect() };
}
