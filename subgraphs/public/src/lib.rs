//! Hub's public procurement subgraph: tenders with lots and amendments,
//! supplier profiles with compliance documents, sealed bids, awards and
//! contracts. Procurement crosses organizations (buyers publish, suppliers
//! bid); who reads what is stated by the guards in `access` and again by the
//! row policies of `migrations/public`. Adds `supplierProfile` to
//! identity's `Organization`.

pub mod access;
pub mod bid;
pub mod contract;
pub mod money;
pub mod ocds;
pub mod organization;
pub mod seed;
pub mod supplier;
pub mod tender;

use std::sync::Arc;

use async_graphql::{Context, MergedObject};
use futures::future::LocalBoxFuture;
use platform::{
    config::Settings,
    db::cached,
    kit::{Runtime, SubgraphApp},
    reads::LoaderCtx,
    retention::{Category, Rule},
    AppError,
};
use serde::Deserialize;
use sqlx::{migrate::Migrator, PgConnection, PgPool};
use uuid::Uuid;

pub use platform::db::Loaded;

#[derive(MergedObject, Default)]
pub struct Query(
    tender::TenderQuery,
    supplier::SupplierQuery,
    bid::BidQuery,
    contract::ContractQuery,
    organization::OrganizationQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    tender::TenderMutation,
    tender::audience::FollowMutation,
    supplier::SupplierMutation,
    bid::BidMutation,
    contract::ContractMutation,
);

/// The `[public]` settings section (`HUB_PUBLIC__…`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PublicSettings {
    /// The OCDS ocid prefix the publisher registered with the Open
    /// Contracting Partnership: `ocds-` and 6 lowercase letters or digits.
    pub ocid_prefix: String,
    /// Where the OCDS endpoints are reached from outside (package URIs, `links.next`).
    pub public_url: String,
    /// The publisher named in OCDS packages.
    pub publisher_name: String,
    /// The license OCDS packages are published under.
    pub license: String,
}

impl Default for PublicSettings {
    fn default() -> Self {
        PublicSettings {
            ocid_prefix: "ocds-hubdev".into(),
            public_url: "http://127.0.0.1:4004".into(),
            publisher_name: "Hub public procurement".into(),
            license: "https://opendatacommons.org/licenses/pddl/1.0/".into(),
        }
    }
}

/// What the public subgraph's resolvers share.
pub struct State {
    pub pool: PgPool,
    /// Where reads go (OCDS: the replica, if any).
    pub reads: Arc<platform::reads::ReadPools>,
    pub settings: Arc<Settings>,
    pub public: PublicSettings,
}

impl State {
    /// A tender's open contracting id.
    pub fn ocid(&self, tender: Uuid) -> String {
        format!("{}-{tender}", self.public.ocid_prefix)
    }
}

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a State, AppError> {
    platform::kit::state(ctx)
}

pub struct Public;

impl SubgraphApp for Public {
    const NAME: &'static str = "public";
    const PORT: u16 = 4004;
    const SCHEMA: &'static str = "procurement";
    // The file of a concluded tender: offers that did not win go, the
    // winner's technical offer is emptied; the published record (tender,
    // awards, contracts) is public and stays.
    const RETENTION: &'static [Rule] = &[
        Rule::delete(
            Category::ProcurementFiles,
            "offers that did not win, of concluded tenders",
            "bids",
            "status <> 'accepted' and id not in (select bid_id from awards) and tender_id in (select id from tenders where status in ('awarded', 'unsuccessful', 'cancelled') and updated_at < $1)",
        ),
        Rule::pseudonymize(
            Category::ProcurementFiles,
            "winning offers' technical summaries, of concluded tenders",
            "bids",
            "technical_summary <> '' and (status = 'accepted' or id in (select bid_id from awards)) and tender_id in (select id from tenders where status in ('awarded', 'unsuccessful', 'cancelled') and updated_at < $1)",
            "technical_summary = ''",
        ),
    ];
    const EXTENSIONS: &'static [&'static str] = &[];
    /// OCDS publication is public data, served to anyone.
    const PUBLIC_PATHS: &'static [&'static str] = ocds::PUBLIC_PATHS;
    type Query = Query;
    type Mutation = Mutation;
    type Settings = PublicSettings;
    type State = State;

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/public");
        &MIGRATOR
    }

    fn state(rt: &Runtime, public: PublicSettings) -> anyhow::Result<State> {
        let prefix = public.ocid_prefix.strip_prefix("ocds-").unwrap_or_default();
        anyhow::ensure!(
            prefix.len() == 6 && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "HUB_PUBLIC__OCID_PREFIX must be `ocds-` and 6 lowercase letters or digits, not `{}`",
            public.ocid_prefix
        );
        let public = PublicSettings {
            public_url: public.public_url.trim_end_matches('/').to_string(),
            ..public
        };
        Ok(State {
            pool: rt.pool.clone(),
            reads: rt.reads.clone(),
            settings: rt.settings.clone(),
            public,
        })
    }

    fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
        use {bid::loader::*, contract::loader::*, supplier::loader::*, tender::loader::*};
        req.data(cached(TenderLoader(ctx.clone())))
            .data(cached(LotsLoader(ctx.clone())))
            .data(cached(AmendmentsLoader(ctx.clone())))
            .data(cached(BidCountLoader(ctx.clone())))
            .data(cached(BidsOfTenderLoader(ctx.clone())))
            .data(cached(SupplierLoader(ctx.clone())))
            .data(cached(SupplierOfOrgLoader(ctx.clone())))
            .data(cached(TaxIdLoader(ctx.clone())))
            .data(cached(DocumentsLoader(ctx.clone())))
            .data(cached(ComplianceLoader(ctx.clone())))
            .data(cached(AwardsOfTenderLoader(ctx.clone())))
            .data(cached(ContractOfAwardLoader(ctx.clone())))
            .data(cached(ContractLoader(ctx)))
    }

    fn jobs(state: &Arc<State>) -> Vec<futures::future::BoxFuture<'static, ()>> {
        vec![Box::pin(tender::audience::reminders(state.pool.clone()))]
    }

    fn routes(state: Arc<State>) -> axum::Router {
        ocds::routes(state)
    }

    fn seed<'a>(conn: &'a mut PgConnection, rt: &'a Runtime) -> LocalBoxFuture<'a, anyhow::Result<()>> {
        Box::pin(seed::seed(conn, rt))
    }
}
