use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::Organization;

pub async fn by_slug(conn: &mut PgConnection, slug: &str) -> AppResult<Option<Organization>> {
    Ok(sqlx::query_as!(
        Organization,
        r#"select id, slug, name, verticals, created_at from organizations where slug = $1"#,
        slug
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Organization>> {
    Ok(sqlx::query_as!(
        Organization,
        r#"select id, slug, name, verticals, created_at from organizations where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn insert(conn: &mut PgConnection, slug: &str, name: &str, verticals: &[String]) -> AppResult<Organization> {
    Ok(sqlx::query_as!(
        Organization,
        r#"insert into organizations (slug, name, verticals) values ($1, $2, $3) returning id, slug, name,
            verticals, created_at"#,
        slug,
        name,
        verticals
    )
    .fetch_one(conn)
    .await?)
}
