//! A fresh database per test, dropped when the test ends, so runs never
//! accumulate `hub_test_*` databases.

use sqlx::{postgres::PgPoolOptions, ConnectOptions, Connection, PgPool};
use uuid::Uuid;

/// The PostgreSQL server tests use (`HUB_TEST_PG`, default the local one).
pub fn pg_host() -> String {
    std::env::var("HUB_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub struct TestDb {
    /// The server (`postgres://user@host:port`), without a database.
    pub server: String,
    pub name: String,
    pub url: String,
    /// Superuser pool on the test database (fixtures, assertions).
    pub admin: PgPool,
}

impl TestDb {
    /// A new, empty database (created lazily by provisioning or here).
    pub async fn new() -> Self {
        Self::on(&pg_host()).await
    }

    /// A new, empty database on this server (`postgres://user@host:port`).
    pub async fn on(host: &str) -> Self {
        let name = format!("hub_test_{}", Uuid::new_v4().simple());
        let url = format!("{host}/{name}");
        let mut server = sqlx::postgres::PgConnection::connect(&format!("{host}/postgres"))
            .await
            .unwrap_or_else(|e| panic!("connect to PostgreSQL at {host} (is it running?): {e}"));
        sqlx::raw_sql(&format!("create database {name}"))
            .execute(&mut server)
            .await
            .expect("create the test database");
        let _ = server.close().await;
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy(&url)
            .expect("admin pool");
        TestDb {
            server: host.to_string(),
            name,
            url,
            admin,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (name, host) = (self.name.clone(), self.server.clone());
        // Drop runs inside the test's runtime, which must not be blocked on
        // itself: a short-lived thread with its own runtime drops the database
        // (forcing out the connections the app under test still holds).
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let opts: sqlx::postgres::PgConnectOptions = format!("{host}/postgres").parse().ok()?;
                let mut conn = opts.connect().await.ok()?;
                sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}
