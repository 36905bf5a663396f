//! Tenders: listing and search, drafting, publication, amendments (deadlines
//! only extended), closing after the deadline, cancellation.

pub mod audience;
pub mod db;
pub mod loader;
pub mod model;
pub mod rules;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Object, Result, ID,
};
use chrono::{DateTime, Utc};
use platform::{
    guards::auth,
    ids::{parse_id, parse_key},
    lifecycle::{self, Lifecycle},
    mutation::{mutate, Audit},
    pagination::Page,
    validate::{optional_text, text},
    AppError, AppResult, OnConstraint,
    Role::*,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    access::{public_or_partner, public_write, require_or_partner, MEMBERS},
    money::{self, Amount, MoneyInput},
    ocds, state, Loaded,
};
use db::TenderCursor;
use loader::TenderLoader;
use model::{MainCategory, ProcurementMethod, Tender, TenderStatus};

const MAX_LOTS: usize = 100;
const MAX_CPV: usize = 20;

/// One lot of a new tender.
#[derive(InputObject)]
pub struct LotInput {
    /// What the lot covers.
    pub title: String,
    /// The buyer's estimate, in the tender's currency (minor units).
    pub estimated_value: Amount,
}

/// A draft tender of the caller's organization, with its lots.
#[derive(InputObject)]
pub struct CreateTenderInput {
    /// Unique per buyer: letters, digits and `. _ / -`, up to 40.
    pub reference: String,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 5,000 characters.
    #[graphql(default)]
    pub description: String,
    /// How suppliers are admitted.
    pub procurement_method: ProcurementMethod,
    /// What is bought.
    pub main_category: MainCategory,
    /// 1 to 20 CPV codes: 8 digits, optionally `-` and a check digit.
    pub cpv_codes: Vec<String>,
    /// The buyer's estimate of the whole tender; its currency is the bids' currency.
    pub estimated_value: MoneyInput,
    /// Until when suppliers may ask questions; not after the submission deadline.
    pub enquiry_deadline: Option<DateTime<Utc>>,
    /// Until when bids are accepted; must be ahead when the tender is published.
    pub submission_deadline: DateTime<Utc>,
    /// Optional lots, numbered in the order given; in the tender's currency.
    #[graphql(default)]
    pub lots: Vec<LotInput>,
}

/// What an amendment changes; fields left out keep their value.
#[derive(InputObject)]
pub struct AmendTenderInput {
    /// A new title.
    pub title: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// In the tender's currency.
    pub estimated_value: Option<Amount>,
    /// May only be moved later.
    pub enquiry_deadline: Option<DateTime<Utc>>,
    /// May only be moved later.
    pub submission_deadline: Option<DateTime<Utc>>,
    /// Why the tender changes (published with the amendment).
    pub rationale: String,
}

fn valid_cpv(codes: &[String]) -> AppResult<Vec<String>> {
    if codes.is_empty() || codes.len() > MAX_CPV {
        return Err(AppError::bad_input("cpvCodes", format!("give 1 to {MAX_CPV} codes")));
    }
    codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = c.trim();
            let b = c.as_bytes();
            let digits = b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit);
            let check = match b.len() {
                8 => true,
                10 => b[8] == b'-' && b[9].is_ascii_digit(),
                _ => false,
            };
            if digits && check {
                Ok(c.to_string())
            } else {
                Err(AppError::bad_input(
                    format!("cpvCodes[{i}]"),
                    "is not a CPV code (8 digits, optionally a dash and a check digit)",
                ))
            }
        })
        .collect()
}

fn valid_deadlines(enquiry: Option<DateTime<Utc>>, submission: DateTime<Utc>) -> AppResult<()> {
    if enquiry.is_some_and(|e| e > submission) {
        return Err(AppError::bad_input(
            "enquiryDeadline",
            "must not be after submissionDeadline",
        ));
    }
    Ok(())
}

fn duplicate_reference() -> AppError {
    AppError::Conflict("a tender with this reference already exists".into())
}

impl Lifecycle for Tender {
    const ENTITY: &'static str = "Tender";
    const ACTION: &'static str = "tender";
    const TABLE: &'static str = "tenders";
    const COLUMNS: &'static str = db::COLUMNS;
    const ON_MOVE: &'static str = "published_at = case when $2 = 'published' then now() else published_at end";
    type Status = TenderStatus;

    fn db_name(status: TenderStatus) -> &'static str {
        status.as_db()
    }

    /// A published step of a tender is an OCDS release.
    async fn after_move(conn: &mut PgConnection, t: &Tender, to: TenderStatus) -> AppResult<()> {
        ocds::record(conn, t.id, ocds::tender_tags(to.as_db())).await
    }

    async fn event(
        conn: &mut PgConnection,
        t: &Tender,
        to: TenderStatus,
    ) -> AppResult<Option<platform::events::Event>> {
        Ok(match to {
            TenderStatus::Published => Some(event("procurement.tender.published", t, json!({}))),
            TenderStatus::Closed => {
                let bids = db::bid_counts(conn, &[t.id]).await?.first().map_or(0, |(_, n)| *n);
                Some(event("procurement.tender.closed", t, json!({ "bids": bids })))
            }
            _ => None,
        })
    }

    /// Publishing needs a deadline ahead and the buyer's OCDS identity,
    /// closing a deadline behind (database clock).
    async fn precondition(conn: &mut PgConnection, id: Uuid, to: TenderStatus) -> AppResult<()> {
        // First: every later statement of the step sees the submissions
        // that were in flight (see `db::take_turn`).
        db::take_turn(conn, id, db::Turn::Deciding).await?;
        let Some(passed) = sqlx::query_scalar!(
            r#"select (submission_deadline <= now()) as "passed!" from tenders where id = $1"#,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Err(AppError::NotFound("Tender"));
        };
        if to == TenderStatus::Published && db::buyer_profile(conn).await?.is_none() {
            return Err(AppError::Conflict(
                "register the buyer profile (registerBuyer) before publishing".into(),
            ));
        }
        match to {
            TenderStatus::Published if passed => {
                Err(AppError::bad_input("submissionDeadline", "must be in the future"))
            }
            TenderStatus::Closed if !passed => Err(AppError::Conflict(
                "bids are accepted until the submission deadline".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Who hears of a tender's changes (`audience` in its events): supplier
/// organizations that bid, and followers.
pub async fn audience(conn: &mut PgConnection, tender: Uuid) -> AppResult<serde_json::Value> {
    let rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as("select organization_id, user_id from tender_audience($1)")
        .bind(tender)
        .fetch_all(conn)
        .await?;
    let organizations: Vec<Uuid> = rows.iter().filter(|r| r.1.is_none()).map(|r| r.0).collect();
    let users: Vec<serde_json::Value> = rows
        .iter()
        .filter_map(|(org, user)| user.map(|u| json!({ "userId": u, "organizationId": org })))
        .collect();
    Ok(json!({ "organizations": organizations, "users": users }))
}

/// `procurement.tender.*` v1 (docs/events.md): the tender as suppliers see
/// it, plus what the step adds (`changes` of an amendment).
fn event(kind: &'static str, t: &Tender, extra: serde_json::Value) -> platform::events::Event {
    let mut payload = json!({
        "tenderId": t.id,
        "buyerId": t.organization_id,
        "reference": t.reference,
        "title": t.title,
        "submissionDeadline": t.submission_deadline,
    });
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    platform::events::Event::new(kind, t.id, payload)
}

/// One lifecycle step of a tender.
async fn step(ctx: &Context<'_>, id: &ID, from: &[TenderStatus], to: TenderStatus) -> AppResult<Tender> {
    lifecycle::step::<Tender>(ctx, id, from, to).await
}

/// A buyer's identity in OCDS publications.
#[derive(async_graphql::SimpleObject, Debug, Clone)]
pub struct BuyerProfile {
    /// The name the buyer publishes under (OCDS party name).
    pub legal_name: String,
    /// An org-id.guide list code, e.g. `FR-RCS`.
    pub identifier_scheme: String,
    /// The buyer's id in that list.
    pub identifier_id: String,
}

/// How the caller's organization is named as a buyer in OCDS releases.
#[derive(InputObject)]
pub struct RegisterBuyerInput {
    /// The name the buyer publishes under (OCDS party name).
    pub legal_name: String,
    /// An org-id.guide list code, e.g. `FR-RCS`, `FR-SIRET`, `GB-COH`.
    pub identifier_scheme: String,
    /// The buyer's id in that list.
    pub identifier_id: String,
}

#[derive(Default)]
pub struct TenderQuery;

#[Object]
impl TenderQuery {
    /// Tenders the caller can see (its own drafts, and every published tender
    /// of the vertical), by submission deadline.
    #[graphql(guard = "public_or_partner(MEMBERS)")]
    #[allow(clippy::too_many_arguments)]
    async fn tenders(
        &self,
        ctx: &Context<'_>,
        status: Option<TenderStatus>,
        #[graphql(desc = "A CPV code or its leading digits (division, group, class).")] cpv: Option<String>,
        #[graphql(desc = "Only tenders whose submission deadline is later.")] deadline_after: Option<DateTime<Utc>>,
        #[graphql(desc = "Words in the reference, title or description.")] search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<TenderCursor>, Tender>> {
        let st = state(ctx)?;
        let page = Page::<TenderCursor>::new(first, after.as_deref(), st.settings.limits.page_size)?;
        let cpv = optional_text("cpv", cpv.as_deref(), 10)?;
        if cpv
            .as_deref()
            .is_some_and(|c| !c.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        {
            return Err(AppError::bad_input(
                "cpv",
                "is not a CPV code (8 digits, optionally a dash and a check digit)",
            )
            .into());
        }
        let search = optional_text("search", search.as_deref(), 100)?;
        let filter = db::Filter {
            status: status.map(TenderStatus::as_db),
            cpv: cpv.as_deref(),
            deadline_after,
            search: search.as_deref(),
            // Partners read published tenders only, never a draft of their own organization.
            drafts: auth(ctx)?.user_id().is_some(),
        };
        let rows = platform::reads::LoaderCtx::of(ctx)?
            .run(ctx.field().name(), async |c| {
                db::page(c, &filter, page.after.as_ref(), page.fetch()).await
            })
            .await?;
        Ok(page.connection(
            rows,
            |t| TenderCursor {
                submission_deadline: t.submission_deadline,
                id: t.id,
            },
            |t| t,
        ))
    }

    /// One tender.
    #[graphql(guard = "public_or_partner(MEMBERS)")]
    async fn tender(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Tender>> {
        let id = parse_id("id", &id)?;
        load_visible(ctx, id).await
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_tender_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Tender>> {
        require_or_partner(ctx, &MEMBERS)?;
        let Some(id) = parse_key(&id) else { return Ok(None) };
        load_visible(ctx, id).await
    }
}

/// A tender by id as the caller may see it: partners never see drafts.
pub async fn load_visible(ctx: &Context<'_>, id: Uuid) -> Result<Option<Tender>> {
    let tender = ctx.data::<Loaded<TenderLoader>>()?.load_one(id).await?;
    let partner = auth(ctx)?.user_id().is_none();
    Ok(tender.filter(|t| !partner || t.status != TenderStatus::Draft))
}

#[derive(Default)]
pub struct TenderMutation;

#[Object]
impl TenderMutation {
    /// Drafts a tender (seen by the buyer only until published).
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn create_tender(&self, ctx: &Context<'_>, input: CreateTenderInput) -> Result<Tender> {
        let caller = auth(ctx)?;
        let reference = text("reference", &input.reference, 1, 40)?;
        let title = text("title", &input.title, 1, 200)?;
        let description = optional_text("description", Some(&input.description), 5000)?.unwrap_or_default();
        let cpv_codes = valid_cpv(&input.cpv_codes)?;
        let (amount, currency) = money::valid("estimatedValue", &input.estimated_value)?;
        valid_deadlines(input.enquiry_deadline, input.submission_deadline)?;
        if input.lots.len() > MAX_LOTS {
            return Err(AppError::bad_input("lots", format!("give at most {MAX_LOTS} lots")).into());
        }
        let lots = input
            .lots
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Ok((
                    text(&format!("lots[{i}].title"), &l.title, 1, 200)?,
                    l.estimated_value.0,
                ))
            })
            .collect::<AppResult<Vec<_>>>()?;
        let new = db::NewTender {
            reference: &reference,
            title: &title,
            description: &description,
            method: input.procurement_method.as_db(),
            category: input.main_category.as_db(),
            cpv_codes: &cpv_codes,
            estimated_amount: amount,
            currency: &currency,
            enquiry_deadline: input.enquiry_deadline,
            submission_deadline: input.submission_deadline,
        };
        Ok(mutate(ctx, async |tx| {
            let tender = db::insert(tx, caller.organization_id, &new)
                .await
                .on_constraint(&[("tenders_org_reference_key", duplicate_reference)])?;
            for (i, (title, amount)) in lots.iter().enumerate() {
                db::insert_lot(tx, caller.organization_id, tender.id, i as i32 + 1, title, *amount).await?;
            }
            let audit = Audit::new("tender.create", "Tender", tender.id)
                .details(json!({ "reference": tender.reference, "lots": lots.len() }));
            Ok((tender, audit))
        })
        .await?)
    }

    /// Sets how the caller's organization is named and identified in its
    /// OCDS publications (needed before the first publication).
    #[graphql(guard = "public_write([ProcurementOfficer, OrgAdmin])")]
    async fn register_buyer(&self, ctx: &Context<'_>, input: RegisterBuyerInput) -> Result<BuyerProfile> {
        let org = auth(ctx)?.organization_id;
        let profile = BuyerProfile {
            legal_name: text("legalName", &input.legal_name, 1, 200)?,
            identifier_scheme: text("identifierScheme", &input.identifier_scheme, 5, 13)?.to_ascii_uppercase(),
            identifier_id: text("identifierId", &input.identifier_id, 1, 50)?,
        };
        Ok(mutate(ctx, async |tx| {
            db::upsert_buyer(tx, org, &profile).await?;
            let audit = Audit::new("buyer.register", "Organization", org)
                .details(json!({ "legalName": profile.legal_name, "scheme": profile.identifier_scheme }));
            Ok((profile, audit))
        })
        .await?)
    }

    /// Publishes a draft: every organization of the vertical sees it and
    /// suppliers may bid until its submission deadline, which must be ahead.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn publish_tender(&self, ctx: &Context<'_>, id: ID) -> Result<Tender> {
        Ok(step(ctx, &id, &[TenderStatus::Draft], TenderStatus::Published).await?)
    }

    /// Changes a published tender before its deadline, keeping the change as
    /// a dated amendment with its rationale. Deadlines may only be extended.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn amend_tender(&self, ctx: &Context<'_>, id: ID, input: AmendTenderInput) -> Result<Tender> {
        let caller = auth(ctx)?;
        let id = parse_id("id", &id)?;
        let rationale = text("rationale", &input.rationale, 1, 1000)?;
        let title = input.title.as_deref().map(|t| text("title", t, 1, 200)).transpose()?;
        let description = optional_text("description", input.description.as_deref(), 5000)?;
        Ok(mutate(ctx, async |tx| {
            let Some(t) = db::lock_own(tx, caller.organization_id, id).await? else {
                return Err(AppError::NotFound("Tender"));
            };
            let (amended, changes) = rules::amend(
                &t,
                rules::Requested {
                    title: title.clone(),
                    description: description.clone(),
                    estimated_amount: input.estimated_value.map(|a| a.0),
                    enquiry_deadline: input.enquiry_deadline,
                    submission_deadline: input.submission_deadline,
                },
            )?;
            let tender = db::amend(tx, id, &amended, &rationale, &changes).await?;
            ocds::record(tx, id, ocds::tender_tags("amended")).await?;
            let audience = audience(tx, id).await?;
            let audit = Audit::new("tender.amend", "Tender", id)
                .details(json!({ "changes": changes }))
                .event(event(
                    "procurement.tender.amended",
                    &tender,
                    json!({ "changes": changes, "rationale": rationale, "audience": audience }),
                ));
            Ok((tender, audit))
        })
        .await?)
    }

    /// Closes a published tender once its deadline has passed: bids open to
    /// the buyer's procurement officers for evaluation.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn close_tender(&self, ctx: &Context<'_>, id: ID) -> Result<Tender> {
        Ok(step(ctx, &id, &[TenderStatus::Published], TenderStatus::Closed).await?)
    }

    /// Ends a closed tender without an award.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn mark_tender_unsuccessful(&self, ctx: &Context<'_>, id: ID) -> Result<Tender> {
        Ok(step(ctx, &id, &[TenderStatus::Closed], TenderStatus::Unsuccessful).await?)
    }

    /// Cancels a tender before its award, with the reason published.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn cancel_tender(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Tender> {
        let caller = auth(ctx)?;
        let id = parse_id("id", &id)?;
        let reason = text("reason", &reason, 1, 1000)?;
        Ok(mutate(ctx, async |tx| {
            let Some(t) = db::lock_own(tx, caller.organization_id, id).await? else {
                return Err(AppError::NotFound("Tender"));
            };
            if !matches!(
                t.status,
                TenderStatus::Draft | TenderStatus::Published | TenderStatus::Closed
            ) {
                let status = t.status.as_db();
                return Err(AppError::Conflict(format!(
                    "the tender is {status} and cannot become cancelled"
                )));
            }
            let tender = db::cancel(tx, id, &reason).await?;
            if tender.published_at.is_some() {
                ocds::record(tx, id, ocds::tender_tags("cancelled")).await?;
            }
            let audit = Audit::new("tender.cancelled", "Tender", id)
                .details(json!({ "from": t.status.as_db(), "reason": reason }));
            Ok((tender, audit))
        })
        .await?)
    }
}
