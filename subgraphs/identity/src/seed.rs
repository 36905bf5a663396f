//! Demo data for development (`hub seed`): organizations, members and roles.
//! Idempotent; the kit refuses to seed a production configuration.
//! Its queries stay dynamic (no compile-time check): they run as the database
//! admin with schema-qualified names, in development only.

use sqlx::PgConnection;

pub const DEMO_PASSWORD: &str = "hub-demo-password";

pub struct DemoOrg {
    pub slug: &'static str,
    pub name: &'static str,
    pub verticals: &'static [&'static str],
    /// (local part of the email, display name, roles)
    pub users: &'static [(&'static str, &'static str, &'static [&'static str])],
}

pub const DEMO: &[DemoOrg] = &[
    DemoOrg {
        slug: "hub",
        name: "Hub platform",
        verticals: &[],
        users: &[("root", "Platform root", &["platform_admin"])],
    },
    DemoOrg {
        slug: "clinique-saint-paul",
        name: "Clinique Saint-Paul",
        verticals: &["medical"],
        users: &[
            ("admin", "Admin Saint-Paul", &["org_admin"]),
            ("dr.martin", "Dr Claire Martin", &["practitioner"]),
            ("nurse.leroy", "Julien Leroy", &["nurse"]),
            ("secretary.dupont", "Sophie Dupont", &["secretary"]),
            ("billing", "Marc Billing", &["billing_clerk"]),
        ],
    },
    DemoOrg {
        slug: "hopital-nord",
        name: "Hôpital Nord",
        verticals: &["medical"],
        users: &[
            ("admin", "Admin Hôpital Nord", &["org_admin"]),
            ("dr.bernard", "Dr Louis Bernard", &["practitioner"]),
        ],
    },
    DemoOrg {
        slug: "ville-de-lyon",
        name: "Ville de Lyon",
        verticals: &["public"],
        users: &[
            ("admin", "Admin Ville de Lyon", &["org_admin"]),
            ("buyer", "Paul Acheteur", &["procurement_officer"]),
        ],
    },
    DemoOrg {
        slug: "acme-fournitures",
        name: "ACME Fournitures",
        verticals: &["public"],
        users: &[
            ("admin", "Admin ACME", &["org_admin"]),
            ("sales", "Nadia Ventes", &["supplier_admin"]),
        ],
    },
    DemoOrg {
        slug: "bati-sud",
        name: "Bati Sud",
        verticals: &["public"],
        users: &[
            ("admin", "Admin Bati Sud", &["org_admin"]),
            ("sales", "Hugo Ventes", &["supplier_admin"]),
        ],
    },
    DemoOrg {
        slug: "nettoyage-express",
        name: "Nettoyage Express",
        verticals: &["public"],
        users: &[("sales", "Inès Propre", &["supplier_admin"])],
    },
];

pub fn email(org: &DemoOrg, local: &str) -> String {
    if org.slug == "hub" {
        format!("{local}@hub.example")
    } else {
        format!("{local}@{}.example", org.slug)
    }
}

/// Adds the demo organizations, users and memberships that are missing.
pub async fn seed(conn: &mut PgConnection) -> anyhow::Result<()> {
    let hash = crate::password::hash(DEMO_PASSWORD)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for org in DEMO {
        seed_org(conn, org, &hash).await?;
    }
    Ok(())
}

async fn seed_org(conn: &mut PgConnection, org: &DemoOrg, hash: &str) -> anyhow::Result<()> {
    let verticals: Vec<String> = org.verticals.iter().map(|v| v.to_string()).collect();
    sqlx::query(
        "insert into identity.organizations (slug, name, verticals) values ($1, $2, $3) on conflict (slug) do nothing",
    )
    .bind(org.slug)
    .bind(org.name)
    .bind(&verticals)
    .execute(&mut *conn)
    .await?;
    for (local, name, roles) in org.users {
        let email = email(org, local);
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        sqlx::query(
            "insert into identity.users (email, display_name, password_hash) values ($1, $2, $3) on conflict (email) do nothing",
        )
        .bind(&email)
        .bind(name)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into identity.memberships (organization_id, user_id, roles)
             select o.id, u.id, $3 from identity.organizations o, identity.users u where o.slug = $1 and u.email = $2
             on conflict (organization_id, user_id) do nothing",
        )
        .bind(org.slug)
        .bind(&email)
        .bind(&roles)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub fn print_logins() {
    println!("Demo logins (password for all: {DEMO_PASSWORD}):");
    for org in DEMO {
        for (local, _, roles) in org.users {
            println!("  {:<22} {:<46} {}", org.slug, email(org, local), roles.join(","));
        }
    }
}
