use chrono::NaiveDate;
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{ComplianceDocument, ComplianceStatus, Supplier};

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SupplierCursor {
    pub legal_name: String,
    pub id: Uuid,
}

pub async fn page(
    conn: &mut PgConnection,
    search: Option<&str>,
    after: Option<&SupplierCursor>,
    limit: i64,
) -> AppResult<Vec<Supplier>> {
    let search = search.map(|s| platform::validate::like_pattern(s, true));
    Ok(sqlx::query_as!(
        Supplier,
        r#"select id, organization_id, legal_name, registration_number,
                  certification_level as "certification_level: _", created_at
             from suppliers
            where ($1::text is null or legal_name ilike $1 or registration_number ilike $1)
              and ($2::text is null or (legal_name, id) > ($2, $3))
            order by legal_name, id limit $4"#,
        search,
        after.map(|c| c.legal_name.as_str()),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Supplier>> {
    Ok(sqlx::query_as!(
        Supplier,
        r#"select id, organization_id, legal_name, registration_number,
                  certification_level as "certification_level: _", created_at
             from suppliers where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_organizations(conn: &mut PgConnection, orgs: &[Uuid]) -> AppResult<Vec<Supplier>> {
    Ok(sqlx::query_as!(
        Supplier,
        r#"select id, organization_id, legal_name, registration_number,
                  certification_level as "certification_level: _", created_at
             from suppliers where organization_id = any($1)"#,
        orgs
    )
    .fetch_all(conn)
    .await?)
}

pub async fn tax_ids(conn: &mut PgConnection, suppliers: &[Uuid]) -> AppResult<Vec<(Uuid, String)>> {
    Ok(sqlx::query!(
        "select supplier_id, tax_id from supplier_tax_ids where supplier_id = any($1)",
        suppliers
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.supplier_id, r.tax_id))
    .collect())
}

pub async fn documents(conn: &mut PgConnection, suppliers: &[Uuid]) -> AppResult<Vec<ComplianceDocument>> {
    Ok(sqlx::query_as!(
        ComplianceDocument,
        r#"select id, supplier_id, kind as "kind: _", title, expires_on from compliance_documents
            where supplier_id = any($1) order by supplier_id, expires_on, id"#,
        suppliers
    )
    .fetch_all(conn)
    .await?)
}

pub async fn compliance(conn: &mut PgConnection, suppliers: &[Uuid]) -> AppResult<Vec<(Uuid, ComplianceStatus)>> {
    Ok(sqlx::query!(
        r#"select s as "supplier!", compliance_status(s) as "status!: ComplianceStatus" from unnest($1::uuid[]) s"#,
        suppliers
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.supplier, r.status))
    .collect())
}

/// The caller's own profile's compliance, by the database's date (the bid check).
pub async fn own_compliance(conn: &mut PgConnection, org: Uuid) -> AppResult<Option<ComplianceStatus>> {
    Ok(sqlx::query_scalar!(
        r#"select compliance_status(id) as "status!: ComplianceStatus" from suppliers where organization_id = $1"#,
        org
    )
    .fetch_optional(conn)
    .await?)
}

pub struct NewSupplier<'a> {
    pub legal_name: &'a str,
    pub registration_number: &'a str,
    pub tax_id: &'a str,
    pub certification_level: &'a str,
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, s: &NewSupplier<'_>) -> AppResult<Supplier> {
    let supplier = sqlx::query_as!(
        Supplier,
        r#"insert into suppliers (organization_id, legal_name, registration_number, certification_level)
           values ($1, $2, $3, $4)
           returning id, organization_id, legal_name, registration_number,
                  certification_level as "certification_level: _", created_at"#,
        org,
        s.legal_name,
        s.registration_number,
        s.certification_level
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into supplier_tax_ids (organization_id, supplier_id, tax_id) values ($1, $2, $3)",
        org,
        supplier.id,
        s.tax_id
    )
    .execute(conn)
    .await?;
    Ok(supplier)
}

pub async fn add_document(
    conn: &mut PgConnection,
    org: Uuid,
    supplier: Uuid,
    kind: &str,
    title: &str,
    expires_on: NaiveDate,
) -> AppResult<ComplianceDocument> {
    Ok(sqlx::query_as!(
        ComplianceDocument,
        r#"insert into compliance_documents (organization_id, supplier_id, kind, title, expires_on)
           values ($1, $2, $3, $4, $5) returning id, supplier_id, kind as "kind: _", title, expires_on"#,
        org,
        supplier,
        kind,
        title,
        expires_on
    )
    .fetch_one(conn)
    .await?)
}
