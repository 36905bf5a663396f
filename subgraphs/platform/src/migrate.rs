//! Provisioning and migrations of one subgraph's schema. Tables are owned by a
//! NOLOGIN owner role; the service logs in as a role that owns nothing and has
//! no BYPASSRLS, so forced row-level security applies to every query it runs.

use sqlx::{migrate::Migrator, postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection};

use crate::config::DatabaseSettings;

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
    let admin = settings.admin_options()?;
    let mut conn = connect_creating_database(&admin).await?;
    let owner = owner_role(settings);
    let login = &settings.role;
    let schema = &settings.schema;
    for name in [owner.as_str(), login.as_str(), schema.as_str()] {
        anyhow::ensure!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "invalid identifier `{name}` in database settings"
        );
    }
    // Roles are cluster-wide: concurrent provisioning (parallel tests) may race,
    // hence the duplicate_object handlers.
    let ddl = format!(
        r#"
do $$ begin
  create role {owner} nologin;
exception when duplicate_object then null; end $$;
do $$ begin
  create role {login} login nosuperuser nobypassrls nocreatedb nocreaterole;
exception when duplicate_object then null; end $$;
alter role {login} nosuperuser nobypassrls;
grant {owner} to current_user;
create schema if not exists {schema} authorization {owner};
grant usage on schema {schema} to {login};
alter default privileges for role {owner} in schema {schema}
  grant select, insert, update, delete on tables to {login};
alter default privileges for role {owner} in schema {schema}
  grant usage, select on sequences to {login};
"#
    );
    run_ignoring_duplicate_grant(&mut conn, &ddl).await?;
    for ext in extensions {
        anyhow::ensure!(
            ext.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "invalid extension `{ext}`"
        );
        run_ignoring_duplicate_grant(&mut conn, &format!("create extension if not exists {ext}")).await?;
    }
    sqlx::raw_sql(&format!("set role {owner}; set search_path to {schema}"))
        .execute(&mut conn)
        .await?;
    migrator
        .run(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("migrating schema `{schema}` failed: {e}"))?;
    sqlx::raw_sql("reset role").execute(&mut conn).await?;
    conn.close().await?;
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
