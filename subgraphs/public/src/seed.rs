//! Demo procurement data (`hub seed`): supplier profiles (one with an
//! expired certificate), ville-de-lyon's tenders in every state with CPV
//! codes and lots, bids from acme-fournitures and bati-sud, and one awarded
//! tender with its contract. Deadlines are set relative to the time of
//! seeding, so the published tender is open and the others are past.
//! Development only: it runs as the database admin and reads identity's demo
//! organizations, which no service ever does; its queries stay dynamic.

use chrono::{Duration, Utc};
use platform::kit::Runtime;
use sqlx::PgConnection;
use uuid::Uuid;

/// (slug, legal name, registration number, tax id, level, certificate expires in days)
const SUPPLIERS: &[(&str, &str, &str, &str, &str, i64)] = &[
    (
        "acme-fournitures",
        "ACME Fournitures SAS",
        "RCS-LYON-812345678",
        "FR40812345678",
        "certified",
        400,
    ),
    (
        "bati-sud",
        "Bati Sud SARL",
        "RCS-MARS-798765432",
        "FR21798765432",
        "qualified",
        200,
    ),
    (
        "nettoyage-express",
        "Nettoyage Express SAS",
        "RCS-LYON-887766554",
        "FR77887766554",
        "basic",
        -20,
    ),
];

struct DemoTender {
    reference: &'static str,
    title: &'static str,
    method: &'static str,
    category: &'static str,
    cpv: &'static [&'static str],
    /// Estimated value in euro cents.
    amount: i64,
    /// Lots: (title, amount in cents).
    lots: &'static [(&'static str, i64)],
    /// Submission deadline, in days from now.
    deadline_days: i64,
    status: &'static str,
    /// (supplier slug, lot number or 0, amount in cents)
    bids: &'static [(&'static str, i32, i64)],
}

const TENDERS: &[DemoTender] = &[
    DemoTender {
        reference: "VDL-2026-001",
        title: "Mobilier de bureau pour la mairie du 3e",
        method: "open",
        category: "goods",
        cpv: &["39130000"],
        amount: 8_000_000,
        lots: &[],
        deadline_days: 45,
        status: "draft",
        bids: &[],
    },
    DemoTender {
        reference: "VDL-2026-002",
        title: "Nettoyage des écoles élémentaires",
        method: "open",
        category: "services",
        cpv: &["90919300", "90911200"],
        amount: 45_000_000,
        lots: &[("Écoles du 1er au 4e", 20_000_000), ("Écoles du 5e au 9e", 25_000_000)],
        deadline_days: 21,
        status: "published",
        bids: &[("acme-fournitures", 1, 19_500_000), ("bati-sud", 2, 24_100_000)],
    },
    DemoTender {
        reference: "VDL-2026-003",
        title: "Réfection de la chaussée, avenue Berthelot",
        method: "open",
        category: "works",
        cpv: &["45233142"],
        amount: 120_000_000,
        lots: &[],
        deadline_days: -3,
        status: "closed",
        bids: &[("bati-sud", 0, 115_000_000), ("acme-fournitures", 0, 131_000_000)],
    },
    DemoTender {
        reference: "VDL-2026-004",
        title: "Ordinateurs portables pour les médiathèques",
        method: "open",
        category: "goods",
        cpv: &["30213100"],
        amount: 15_000_000,
        lots: &[],
        deadline_days: -30,
        status: "awarded",
        bids: &[("acme-fournitures", 0, 13_900_000), ("bati-sud", 0, 14_800_000)],
    },
    DemoTender {
        reference: "VDL-2026-005",
        title: "Restauration du marché de Noël",
        method: "selective",
        category: "services",
        cpv: &["55520000"],
        amount: 6_000_000,
        lots: &[],
        deadline_days: -10,
        status: "unsuccessful",
        bids: &[],
    },
    DemoTender {
        reference: "VDL-2026-006",
        title: "Campagne d'affichage culturel",
        method: "limited",
        category: "services",
        cpv: &["79341000"],
        amount: 3_000_000,
        lots: &[],
        deadline_days: 10,
        status: "cancelled",
        bids: &[],
    },
];

async fn org_id(conn: &mut PgConnection, slug: &str) -> anyhow::Result<Uuid> {
    sqlx::query_scalar("select id from identity.organizations where slug = $1")
        .bind(slug)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| anyhow::anyhow!("demo organization {slug}: {e}"))
}

pub async fn seed(conn: &mut PgConnection, _rt: &Runtime) -> anyhow::Result<()> {
    sqlx::raw_sql("set search_path to procurement")
        .execute(&mut *conn)
        .await?;
    let buyer = org_id(conn, "ville-de-lyon").await?;
    let existing: i64 = sqlx::query_scalar("select count(*) from tenders where organization_id = $1")
        .bind(buyer)
        .fetch_one(&mut *conn)
        .await?;
    if existing > 0 {
        return Ok(());
    }
    sqlx::query(
        "insert into buyers (organization_id, legal_name, identifier_scheme, identifier_id)
         values ($1, 'Ville de Lyon', 'FR-SIRET', '21690123100011') on conflict do nothing",
    )
    .bind(buyer)
    .execute(&mut *conn)
    .await?;
    for (slug, name, registration, tax, level, expires_in) in SUPPLIERS {
        let org = org_id(conn, slug).await?;
        let supplier: Uuid = sqlx::query_scalar(
            "insert into suppliers (organization_id, legal_name, registration_number, certification_level)
             values ($1, $2, $3, $4) returning id",
        )
        .bind(org)
        .bind(name)
        .bind(registration)
        .bind(level)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("insert into supplier_tax_ids (organization_id, supplier_id, tax_id) values ($1, $2, $3)")
            .bind(org)
            .bind(supplier)
            .bind(tax)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "insert into compliance_documents (organization_id, supplier_id, kind, title, expires_on)
             values ($1, $2, 'tax_clearance', 'Attestation de régularité fiscale', current_date + 180),
                    ($1, $2, 'quality_certificate', 'Certificat ISO 9001', current_date + $3::int)",
        )
        .bind(org)
        .bind(supplier)
        .bind(*expires_in as i32)
        .execute(&mut *conn)
        .await?;
    }
    let now = Utc::now();
    for t in TENDERS {
        let deadline = now + Duration::days(t.deadline_days);
        let published = (t.status != "draft").then(|| deadline - Duration::days(30));
        let cpv: Vec<String> = t.cpv.iter().map(|c| c.to_string()).collect();
        let reason = (t.status == "cancelled").then_some("Budget culturel réaffecté par le conseil municipal");
        let tender: Uuid = sqlx::query_scalar(
            "insert into tenders (organization_id, reference, title, description, procurement_method, main_category,
                                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                                  status, cancellation_reason, published_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'EUR', $9, $10, $11, $12, $13) returning id",
        )
        .bind(buyer)
        .bind(t.reference)
        .bind(t.title)
        .bind(format!("{} — marché public de la Ville de Lyon.", t.title))
        .bind(t.method)
        .bind(t.category)
        .bind(&cpv)
        .bind(t.amount)
        .bind(deadline - Duration::days(7))
        .bind(deadline)
        .bind(t.status)
        .bind(reason)
        .bind(published)
        .fetch_one(&mut *conn)
        .await?;
        let mut lots = vec![];
        for (i, (title, amount)) in t.lots.iter().enumerate() {
            let lot: Uuid = sqlx::query_scalar(
                "insert into lots (organization_id, tender_id, number, title, estimated_amount)
                 values ($1, $2, $3, $4, $5) returning id",
            )
            .bind(buyer)
            .bind(tender)
            .bind(i as i32 + 1)
            .bind(title)
            .bind(amount)
            .fetch_one(&mut *conn)
            .await?;
            lots.push(lot);
        }
        if t.reference == "VDL-2026-002" {
            sqlx::query(
                "insert into amendments (organization_id, tender_id, rationale, changes, amended_at)
                 values ($1, $2, 'Visite des sites ajoutée : délai prolongé d''une semaine', $3, $4)",
            )
            .bind(buyer)
            .bind(tender)
            .bind(serde_json::json!({ "submissionDeadline": { "from": deadline - Duration::days(7), "to": deadline } }))
            .bind(now - Duration::days(2))
            .execute(&mut *conn)
            .await?;
        }
        for (k, (slug, lot, amount)) in t.bids.iter().enumerate() {
            let supplier = org_id(conn, slug).await?;
            let lot = (*lot > 0).then(|| lots[*lot as usize - 1]);
            let status = match (t.status, k) {
                ("awarded", 0) => "accepted",
                ("awarded", _) => "rejected",
                _ => "submitted",
            };
            let bid: Uuid = sqlx::query_scalar(
                "insert into bids (organization_id, buyer_id, tender_id, lot_id, amount, currency, technical_summary,
                                   status, submitted_at)
                 values ($1, $2, $3, $4, $5, 'EUR', $6, $7, $8) returning id",
            )
            .bind(supplier)
            .bind(buyer)
            .bind(tender)
            .bind(lot)
            .bind(amount)
            .bind(format!("Offre de {slug} pour {}", t.reference))
            .bind(status)
            .bind(deadline - Duration::days(5))
            .fetch_one(&mut *conn)
            .await?;
            if status == "accepted" {
                let award: Uuid = sqlx::query_scalar(
                    "insert into awards (organization_id, tender_id, supplier_id, bid_id, amount, currency, awarded_at)
                     values ($1, $2, $3, $4, $5, 'EUR', $6) returning id",
                )
                .bind(buyer)
                .bind(tender)
                .bind(supplier)
                .bind(bid)
                .bind(amount)
                .bind(deadline + Duration::days(7))
                .fetch_one(&mut *conn)
                .await?;
                let start = (deadline + Duration::days(14)).date_naive();
                sqlx::query(
                    "insert into contracts (organization_id, tender_id, award_id, supplier_id, amount, currency,
                                            period_start, period_end, status, signed_at)
                     values ($1, $2, $3, $4, $5, 'EUR', $6, $7, 'active', $8)",
                )
                .bind(buyer)
                .bind(tender)
                .bind(award)
                .bind(supplier)
                .bind(amount)
                .bind(start)
                .bind(start + Duration::days(365))
                .bind(deadline + Duration::days(10))
                .execute(&mut *conn)
                .await?;
            }
        }
        // One release per seeded tender, for its state now (drafts publish nothing).
        let tags = match t.status {
            "draft" => continue,
            "published" => crate::ocds::tender_tags("published"),
            other => crate::ocds::tender_tags(other),
        };
        crate::ocds::record(conn, tender, tags)
            .await
            .map_err(|e| anyhow::anyhow!("OCDS release of {}: {e}", t.reference))?;
    }
    Ok(())
}
