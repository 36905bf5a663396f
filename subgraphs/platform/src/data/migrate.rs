//! Provisioning and migrations of one subgraph's schema. Tables are owned by a
//! NOLOGIN owner role; the service logs in as a role that owns nothing and has
//! no BYPASSRLS, so forced row-level security applies to every query it runs.
//!
//! Provisioning first applies the platform's own versioned migrations
//! (`subgraphs/platform/migrations/*.sql`, history in the schema's
//! `platform_migrations`): `current_org()`, `current_app_user()`,
//! `has_app_role(text)`, the append-only chained `audit_log`, the read log,
//! the outbox, and the procedure `enable_tenancy(regclass)` that enables and
//! forces RLS on a table with the standard tenant policy. Subgraph migrations
//! call `enable_tenancy('<table>')`; they never copy it.

use sqlx::{migrate::Migrator, postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection};

use crate::foundation::config::DatabaseSettings;

/// Owner role of a subgraph's schema.
pub fn owner_role(settings: &DatabaseSettings) -> String {
    format!("{}_owner", settings.role)
}

/// Creates the database (if missing), the extensions the subgraph needs (as
/// the admin: the owner role may not), both roles and the schema, then runs
/// the subgraph's migrations as the owner role. Idempotent.
pub async fn provision_and_migrate(
    settings: &DatabaseSettings,
    migrator: &Migrator,
    extensions: &[&str],
) -> anyhow::Result<()> {
    let mut conn = provision(settings, extensions, true).await?;
    let owner = owner_role(settings);
    let (login, schema) = (&settings.role, &settings.schema);
    // `pg_temp` last, explicitly: every `security definer ... set search_path
    // from current` below and in the migrations records this path, so a
    // caller's temporary table or function can never stand in for the
    // schema's (unnamed, pg_temp would be searched first).
    sqlx::raw_sql(&format!("set role {owner}; set search_path to {schema}, pg_temp"))
        .execute(&mut conn)
        .await?;
    apply_platform_migrations(&mut conn, schema, login).await?;
    migrator.run(&mut conn).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMismatch(v) | sqlx::migrate::MigrateError::VersionMissing(v) => {
            anyhow::anyhow!(
                "schema `{schema}` was migrated with a different migration {v} than this checkout has \
                 (migrations were rewritten). For development data run `cargo run -p hub -- reset`, \
                 which drops the subgraph schemas, migrates and seeds again."
            )
        }
        e => anyhow::anyhow!("migrating schema `{schema}` failed: {e}"),
    })?;
    // Migration history is the owner's business: the default privileges gave
    // the service role write access to both history tables.
    sqlx::raw_sql(&format!(
        "revoke all on _sqlx_migrations, platform_migrations from {login}"
    ))
    .execute(&mut conn)
    .await?;
    sqlx::raw_sql("reset role").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Creates the database (if missing), the extensions, both roles and, with
/// `schema`, the empty schema and its privileges: what must exist before a
/// schema's tables are made by migrations or restored from a backup (`hub
/// restore`, whose dump brings the schema itself). Returns the admin's
/// connection.
pub async fn provision(settings: &DatabaseSettings, extensions: &[&str], schema: bool) -> anyhow::Result<PgConnection> {
    let admin = settings.admin_options()?;
    let mut conn = connect_creating_database(&admin).await?;
    let owner = owner_role(settings);
    let (login, name) = (&settings.role, &settings.schema);
    for id in [owner.as_str(), login.as_str(), name.as_str()] {
        anyhow::ensure!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "invalid identifier `{id}` in database settings"
        );
    }
    // Roles are cluster-wide: concurrent provisioning (parallel tests) may race,
    // hence the duplicate_object handlers.
    let mut ddl = format!(
        r#"
do $$ begin
  create role {owner} nologin;
exception when duplicate_object then null; end $$;
do $$ begin
  create role {login} login nosuperuser nobypassrls nocreatedb nocreaterole;
exception when duplicate_object then null; end $$;
alter role {login} nosuperuser nobypassrls;
grant {owner} to current_user;
"#
    );
    if schema {
        ddl.push_str(&format!(
            r#"
create schema if not exists {name} authorization {owner};
grant usage on schema {name} to {login};
alter default privileges for role {owner} in schema {name}
  grant select, insert, update, delete on tables to {login};
alter default privileges for role {owner} in schema {name}
  grant usage, select on sequences to {login};
"#
        ));
    }
    run_ignoring_duplicate_grant(&mut conn, &ddl).await?;
    for ext in extensions {
        anyhow::ensure!(
            ext.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "invalid extension `{ext}`"
        );
        run_ignoring_duplicate_grant(&mut conn, &format!("create extension if not exists {ext}")).await?;
    }
    Ok(conn)
}

/// The platform's own migrations (`subgraphs/platform/migrations`): the
/// tenancy functions, the audit chain, the read log and its sealer, the
/// outbox, the mail records — the same in every subgraph's schema.
static PLATFORM: Migrator = sqlx::migrate!("./migrations");

/// Applies the platform migrations this schema has not had, in one
/// transaction, recording each in the schema's own `platform_migrations`
/// (the subgraph's own go to `_sqlx_migrations`, which sqlx 0.8 cannot
/// rename: two migrators cannot share it). Runs as the schema owner with the
/// schema on the search path; the service role's name reaches the files'
/// grants through `hub.service_role`.
async fn apply_platform_migrations(conn: &mut PgConnection, schema: &str, login: &str) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext($1 || '.platform_migrations'))")
        .bind(schema)
        .execute(&mut *tx)
        .await?;
    sqlx::query("select set_config('hub.service_role', $1, true)")
        .bind(login)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "create table if not exists platform_migrations (
           version bigint primary key,
           description text not null,
           checksum bytea not null,
           applied_at timestamptz not null default now())",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as("select version, checksum from platform_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for m in PLATFORM.iter() {
        match applied.iter().find(|(v, _)| *v == m.version) {
            Some((_, sum)) if sum.as_slice() == &*m.checksum => continue,
            Some(_) => anyhow::bail!(
                "schema `{schema}` had platform migration {} applied with different contents than this \
                 checkout has (a platform migration was edited; add a new one instead). For development \
                 data run `cargo run -p hub -- reset`.",
                m.version
            ),
            None => {}
        }
        sqlx::raw_sql(&m.sql).execute(&mut *tx).await.map_err(|e| {
            anyhow::anyhow!(
                "platform migration {} ({}) in schema `{schema}` failed: {e}",
                m.version,
                m.description
            )
        })?;
        sqlx::query("insert into platform_migrations (version, description, checksum) values ($1, $2, $3)")
            .bind(m.version)
            .bind(&*m.description)
            .bind(&*m.checksum)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn run_ignoring_duplicate_grant(conn: &mut PgConnection, ddl: &str) -> anyhow::Result<()> {
    // `create schema if not exists` and `grant` can also race; retry once.
    match sqlx::raw_sql(ddl).execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(first) => {
            tracing::debug!(error = %first, "provisioning raced, retrying");
            sqlx::raw_sql(ddl).execute(&mut *conn).await?;
            Ok(())
        }
    }
}

async fn connect_creating_database(admin: &PgConnectOptions) -> anyhow::Result<PgConnection> {
    match admin.connect().await {
        Ok(c) => Ok(c),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let db = admin.get_database().unwrap_or("hub").to_string();
            anyhow::ensure!(
                db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "invalid database name `{db}`"
            );
            let mut server = admin.clone().database("postgres").connect().await?;
            if let Err(e) = sqlx::raw_sql(&format!("create database {db}"))
                .execute(&mut server)
                .await
            {
                // Another process may have created it meanwhile.
                tracing::debug!(error = %e, "create database");
            }
            Ok(admin.connect().await?)
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot connect to PostgreSQL at {}:{} as {}: {e}",
            admin.get_host(),
            admin.get_port(),
            admin.get_username()
        )),
    }
}
