//! Hub's medical subgraph: patients (with encrypted contact and insurance),
//! allergies, appointments without double booking, procedures, clinical notes
//! that are immutable once signed, and invoices. Adds `schedule` to identity's
//! `User`.

pub mod access;
pub mod appointment;
pub mod communication;
pub mod fhir;
pub mod invoice;
pub mod note;
pub mod patient;
pub mod practitioner;
pub mod procedure;
pub mod seed;
pub mod user;

use std::sync::Arc;

use async_graphql::{Context, MergedObject};
use futures::future::LocalBoxFuture;
use platform::{
    config::Settings,
    crypto::FieldCipher,
    db::cached,
    kit::{Runtime, SubgraphApp},
    reads::LoaderCtx,
    retention::{Category, Rule},
    AppError,
};
use sqlx::{migrate::Migrator, PgConnection, PgPool};

pub use platform::db::Loaded;

#[derive(MergedObject, Default)]
pub struct Query(
    patient::PatientQuery,
    appointment::AppointmentQuery,
    invoice::InvoiceQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    patient::PatientMutation,
    appointment::AppointmentMutation,
    procedure::ProcedureMutation,
    note::NoteMutation,
    invoice::InvoiceMutation,
);

/// What medical's resolvers share.
pub struct State {
    pub pool: PgPool,
    /// Where reads go (FHIR reads and searches: the replica, if any).
    pub reads: Arc<platform::reads::ReadPools>,
    /// Seals contact details, insurance numbers and clinical notes.
    pub cipher: FieldCipher,
    pub settings: Arc<Settings>,
    /// Sends appointment confirmations and cancellations.
    pub mail: platform::mail::Mail,
    /// The FHIR API's public base URL, without a trailing slash.
    pub fhir_base: String,
}

/// `[medical]` settings (`HUB_MEDICAL__…`).
#[derive(Debug, serde::Deserialize)]
#[serde(default)]
pub struct MedicalSettings {
    /// Where FHIR clients reach the API: the router host's `/fhir`
    /// (`HUB_MEDICAL__FHIR_BASE_URL`). Resources carry it in `fullUrl`,
    /// links and identifier systems.
    pub fhir_base_url: String,
}

impl Default for MedicalSettings {
    fn default() -> Self {
        MedicalSettings {
            fhir_base_url: "http://127.0.0.1:4000/fhir".into(),
        }
    }
}

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a State, AppError> {
    platform::kit::state(ctx)
}

pub struct Medical;

/// Rows of a patient whose record closed (deletion) before the cutoff.
const CLOSED_RECORD: &str = "patient_id in (select id from patients where deleted_at < $1)";
/// What is left of a patient after retention or erasure: the row (invoices
/// and the audit trail name it) with no one recognizable in it.
pub const PSEUDONYMIZE_PATIENT: &str =
    "mrn = 'X-' || substr(md5(id::text), 1, 24), given_name = 'X', family_name = 'X',
    birth_date = make_date(extract(year from birth_date)::int, 1, 1), blood_type = null,
    contact_enc = null, contact_key_id = null, insurance_enc = null, insurance_key_id = null,
    sealed_identity_enc = null, sealed_identity_key_id = null, updated_at = now()";

impl SubgraphApp for Medical {
    const NAME: &'static str = "medical";
    const PORT: u16 = 4003;
    const SCHEMA: &'static str = "medical";
    // A record is closed when the patient is deleted; its clinical content
    // goes when the retention period has passed since, the patient row
    // stays pseudonymized for the invoices and the audit trail that name it.
    const RETENTION: &'static [Rule] = &[
        Rule::delete(
            Category::ClinicalRecords,
            "clinical notes of closed records",
            "clinical_notes",
            CLOSED_RECORD,
        )
        .sealed(),
        Rule::delete(
            Category::ClinicalRecords,
            "allergies of closed records",
            "allergies",
            CLOSED_RECORD,
        ),
        Rule::delete(
            Category::ClinicalRecords,
            "procedures of closed records",
            "procedures",
            CLOSED_RECORD,
        ),
        // After procedures, which may name an appointment.
        Rule::delete(
            Category::ClinicalRecords,
            "appointments of closed records",
            "appointments",
            CLOSED_RECORD,
        ),
        Rule::pseudonymize(
            Category::ClinicalRecords,
            "closed patient records",
            "patients",
            "deleted_at < $1 and (mrn not like 'X-%' or sealed_identity_enc is not null)",
            PSEUDONYMIZE_PATIENT,
        ),
        Rule::delete(
            Category::Invoices,
            "lines of settled invoices",
            "invoice_lines",
            "invoice_id in (select id from invoices where coalesce(paid_at, voided_at) < $1)",
        )
        .sealed(),
        Rule::delete(
            Category::Invoices,
            "settled invoices",
            "invoices",
            "coalesce(paid_at, voided_at) < $1",
        ),
    ];
    /// The appointments' exclusion constraint needs btree_gist.
    const EXTENSIONS: &'static [&'static str] = &["btree_gist"];
    type Query = Query;
    type Mutation = Mutation;
    type Settings = MedicalSettings;
    type State = State;

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/medical");
        &MIGRATOR
    }

    fn state(rt: &Runtime, own: MedicalSettings) -> anyhow::Result<State> {
        let (pool, settings, cipher) = (rt.pool.clone(), rt.settings.clone(), rt.field_cipher()?);
        Ok(State {
            pool,
            reads: rt.reads.clone(),
            cipher,
            mail: platform::mail::Mail::new(&settings.mail, communication::templates()?, rt.pool.clone())?,
            fhir_base: own.fhir_base_url.trim_end_matches('/').to_string(),
            settings,
        })
    }

    fn routes(state: Arc<State>) -> axum::Router {
        fhir::routes(state)
    }

    fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
        use {appointment::loader::*, invoice::loader::*, note::loader::*, patient::loader::*};
        req.data(cached(PatientLoader(ctx.clone())))
            .data(cached(practitioner::loader::PractitionerLoader(ctx.clone())))
            .data(cached(AllergiesLoader(ctx.clone())))
            .data(cached(NotesByPatientLoader(ctx.clone())))
            .data(cached(ProceduresByPatientLoader(ctx.clone())))
            .data(cached(AppointmentLoader(ctx.clone())))
            .data(cached(ScheduleLoader(ctx.clone())))
            .data(cached(NoteLoader(ctx.clone())))
            .data(cached(InvoiceLinesLoader(ctx.clone())))
            .data(cached(InvoicesByPatientLoader(ctx.clone())))
            .data(cached(InvoiceLoader(ctx)))
    }

    /// A member's practitioner profile and the records they authored (ids
    /// and dates: the contents are the patients' data, not theirs).
    fn personal_data(
        conn: &mut PgConnection,
        user: uuid::Uuid,
    ) -> futures::future::BoxFuture<'_, platform::AppResult<serde_json::Value>> {
        Box::pin(async move {
            use platform::rgpd::json_rows;
            let profile = json_rows(
                conn,
                "select to_jsonb(x) from (select display_name, roles, active, updated_at from practitioners where user_id = $1) x",
                user,
            )
            .await?;
            let notes = json_rows(
                conn,
                "select to_jsonb(x) from (select id, patient_id, created_at, signed_at from clinical_notes
                                           where author_id = $1 order by created_at) x",
                user,
            )
            .await?;
            let procedures = json_rows(
                conn,
                "select to_jsonb(x) from (select id, patient_id, code, performed_at from procedures
                                           where performer_id = $1 order by performed_at) x",
                user,
            )
            .await?;
            Ok(
                serde_json::json!({ "practitioner": profile, "clinicalNotesAuthored": notes, "proceduresPerformed": procedures }),
            )
        })
    }

    fn subscriptions(state: &Arc<State>) -> Vec<platform::events::Subscription> {
        let mut subs = practitioner::subscriptions();
        subs.extend(communication::subscriptions(state));
        subs
    }

    fn seed<'a>(conn: &'a mut PgConnection, rt: &'a Runtime) -> LocalBoxFuture<'a, anyhow::Result<()>> {
        Box::pin(seed::seed(conn, rt))
    }
}
