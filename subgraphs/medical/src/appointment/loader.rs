use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use platform::{reads::LoaderCtx, AppError};
use uuid::Uuid;

use super::{db, model::Appointment};

platform::loaders! {
    pub struct AppointmentLoader: Appointment = one(|a| a.id) from db::by_ids;
}

/// A practitioner's appointments in a range.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ScheduleKey {
    pub practitioner: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One statement per distinct range, whatever the number of practitioners.
pub struct ScheduleLoader(pub LoaderCtx);

impl Loader<ScheduleKey> for ScheduleLoader {
    type Value = Vec<Appointment>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ScheduleKey]) -> Result<HashMap<ScheduleKey, Vec<Appointment>>, Self::Error> {
        let mut ranges: HashMap<(DateTime<Utc>, DateTime<Utc>), Vec<Uuid>> = HashMap::new();
        for k in keys {
            ranges.entry((k.from, k.to)).or_default().push(k.practitioner);
        }
        self.0
            .run("ScheduleLoader", async |c| {
                let mut out: HashMap<ScheduleKey, Vec<Appointment>> =
                    keys.iter().map(|k| (k.clone(), Vec::new())).collect();
                for ((from, to), practitioners) in &ranges {
                    for a in db::of_practitioners(c, practitioners, *from, *to).await? {
                        let key = ScheduleKey {
                            practitioner: a.practitioner_id,
                            from: *from,
                            to: *to,
                        };
                        out.entry(key).or_default().push(a);
                    }
                }
                Ok(out)
            })
            .await
    }
}
