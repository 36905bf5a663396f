//! Database access: a pool with hard timeouts, and [`TenantTx`], the only way
//! resolvers reach tables. Every transaction sets the tenant, user and roles
//! first, so PostgreSQL row-level security filters every statement; with no
//! tenant set, the policies match zero rows.

use std::{
    collections::HashMap,
    hash::Hash,
    ops::{Deref, DerefMut},
};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgConnection, PgPool, Postgres, Transaction,
};
use tracing::Instrument;
#[doc(hidden)]
pub use uuid::Uuid;

use crate::{
    foundation::config::DatabaseSettings,
    foundation::error::AppResult,
    security::auth::{AuthContext, Role, Vertical},
};

/// Connects lazily as the service's login role: the service starts (and
/// reports not-ready) while PostgreSQL is down.
pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    Ok(pool_with(settings, settings.service_options()?, "hub"))
}

/// A lazy pool with the service's session settings on `opts` (the primary,
/// or the read replica); `application_name` is `<purpose>-<schema>`.
pub fn pool_with(settings: &DatabaseSettings, opts: PgConnectOptions, purpose: &str) -> PgPool {
    let opts = opts.options([
        ("statement_timeout", settings.statement_timeout_ms.to_string()),
        ("search_path", settings.schema.clone()),
        ("application_name", format!("{purpose}-{}", settings.schema)),
    ]);
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        // No ping before every acquire: it is a round trip per transaction.
        // A connection PostgreSQL dropped fails its next statement once and
        // is discarded; connections are also recycled after a while.
        .test_before_acquire(false)
        .max_lifetime(std::time::Duration::from_secs(30 * 60))
        .idle_timeout(std::time::Duration::from_secs(5 * 60))
        .acquire_timeout(settings.acquire_timeout())
        .connect_lazy_with(opts)
}

/// What a transaction is allowed to see: one organization, as one user, with
/// roles, in the verticals the organization has (policies of data shared
/// across organizations of a vertical read them: `has_vertical`).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub roles: Vec<Role>,
    pub verticals: Vec<Vertical>,
}

impl Scope {
    /// The caller's scope; anonymous callers get no tenant, so RLS returns nothing.
    pub fn for_caller(caller: Option<&AuthContext>) -> Self {
        caller.map(Scope::from).unwrap_or_default()
    }
}

impl From<&AuthContext> for Scope {
    fn from(a: &AuthContext) -> Self {
        Scope {
            organization_id: a.organization_id,
            user_id: a.user_id(),
            roles: a.roles.clone(),
            verticals: a.verticals.clone(),
        }
    }
}

/// A transaction bound to one tenant. Dereferences to a `PgConnection` so
/// free `db::` functions take `&mut PgConnection`.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    /// The transaction's trace span: from `BEGIN` to its commit or rollback.
    _span: tracing::Span,
}

impl TenantTx {
    pub async fn begin(pool: &PgPool, auth: &AuthContext) -> AppResult<Self> {
        Self::begin_scoped(pool, &Scope::from(auth)).await
    }

    /// For flows that establish identity themselves (login, token exchange).
    /// `BEGIN` and the scope travel in one round trip (one simple query).
    pub async fn begin_scoped(pool: &PgPool, scope: &Scope) -> AppResult<Self> {
        let span = tracing::info_span!(
            "db.transaction",
            otel.kind = "client",
            db.system.name = "postgresql",
            db.operation.name = "transaction",
        );
        let tx = pool.begin_with(begin_scope_sql(scope)).instrument(span.clone()).await?;
        Ok(TenantTx { tx, _span: span })
    }

    /// Re-scopes the transaction, e.g. after creating an organization, to
    /// write the new tenant's first rows atomically with it.
    pub async fn rescope(&mut self, scope: &Scope) -> AppResult<()> {
        set_scope(&mut self.tx, scope).await
    }

    pub async fn commit(self) -> AppResult<()> {
        Ok(self.tx.commit().await?)
    }
}

/// Sets the tenant, user and roles of the current transaction (how a flow
/// moves between the tenants it is entitled to, e.g. ending a user's
/// sessions everywhere; every scoped transaction starts with the same SQL,
/// sent with its `BEGIN`).
pub async fn set_scope(conn: &mut PgConnection, scope: &Scope) -> AppResult<()> {
    // A prepared statement with parameters (cached per connection); the
    // same settings as `begin_scope_sql`, which has to inline them.
    // Dynamic on purpose: platform code, run by every subgraph, touches no table.
    sqlx::query(
        "select set_config('app.organization_id', $1, true),
                set_config('app.user_id', $2, true),
                set_config('app.roles', $3, true),
                set_config('app.verticals', $4, true)",
    )
    .bind(scope.organization_id.to_string())
    .bind(scope.user_id.map(|u| u.to_string()).unwrap_or_default())
    .bind(roles_setting(scope))
    .bind(verticals_setting(scope))
    .execute(conn)
    .await?;
    Ok(())
}

/// `BEGIN` and the scope's `set_config`s as one simple query: one round trip
/// to open a scoped transaction. The simple protocol takes no parameters, so
/// the values are written inline: only UUIDs (hyphenated hex) and role names
/// from the closed `Role` and `Vertical` enums, none of which can hold a quote.
fn begin_scope_sql(scope: &Scope) -> String {
    let user = scope.user_id.map(|u| u.to_string()).unwrap_or_default();
    format!(
        "begin; select set_config('app.organization_id', '{}', true), \
         set_config('app.user_id', '{user}', true), set_config('app.roles', '{}', true), \
         set_config('app.verticals', '{}', true)",
        scope.organization_id,
        roles_setting(scope),
        verticals_setting(scope)
    )
}

/// `app.roles` as the policies read it (`has_app_role`): comma-separated.
fn roles_setting(scope: &Scope) -> String {
    scope.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// `app.verticals` as the policies read it (`has_vertical`): comma-separated.
fn verticals_setting(scope: &Scope) -> String {
    scope.verticals.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(",")
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// Per-request loaders with a per-request cache: rows a resolver prefetched
/// are reused by the fields below, and nothing outlives the request or
/// crosses tenants. Batches are cut by the request, not by a timer
/// ([`crate::data::batch`]).
pub use crate::data::batch::{cached, Loaded};

/// Groups rows by a key, keeping their order: one-to-many loader results.
/// Every requested key gets an entry, empty if no row matched, so a cached
/// "nothing" is not fetched again.
pub fn group_by<K: Hash + Eq + Clone, V>(keys: &[K], rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut map: HashMap<K, Vec<V>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// Rows keyed by one of their fields: one-to-one loader results.
pub fn keyed<K: Hash + Eq, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, V> {
    rows.into_iter().map(|row| (key(&row), row)).collect()
}

#[doc(hidden)]
pub use async_graphql::dataloader::Loader;
