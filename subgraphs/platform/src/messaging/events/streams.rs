//! The streams themselves: trimming by age, forgetting an erased person's
//! entries, consumer groups' positions and the dead letters.

use std::time::Duration;

use uuid::Uuid;

use crate::infra::kv::Kv;

use super::*;

/// Trims every stream of `prefix` (the families and the dead letters) to
/// what is younger than `retention`: stream ids are milliseconds, so this is
/// `XTRIM MINID`. Several relays may trim at once; it is idempotent.
pub async fn trim_streams(kv: &Kv, prefix: &str, retention: Duration) -> anyhow::Result<u64> {
    let mut conn = kv.connection()?;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    let cutoff = now_ms.saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
    let mut trimmed = 0u64;
    for key in stream_keys(&mut conn, prefix).await? {
        let n: u64 = redis::cmd("XTRIM")
            .arg(&key)
            .arg("MINID")
            .arg(format!("{cutoff}-0"))
            .query_async(&mut conn)
            .await?;
        trimmed += n;
    }
    Ok(trimmed)
}

async fn stream_keys(conn: &mut redis::aio::ConnectionManager, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut keys = vec![];
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(500)
            .arg("TYPE")
            .arg("stream")
            .query_async(conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// Removes, from every stream of `prefix` (dead letters included), the
/// entries that carry personal data of `subject` (their entity, their
/// `userId`, or `email`): an erasure must not leave them to age out.
/// Entries without personal data (the erasure's own events: a removal, the
/// "erased" rename) stay, so consumers still hear of the erasure.
pub async fn forget_in_streams(kv: &Kv, prefix: &str, subject: Uuid, email: Option<&str>) -> anyhow::Result<u64> {
    let mut conn = kv.connection()?;
    let mut forgotten = 0u64;
    for key in stream_keys(&mut conn, prefix).await? {
        let mut start = "-".to_string();
        loop {
            let page: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            let Some(last) = page.last().map(|(id, _)| id.clone()) else {
                break;
            };
            let doomed: Vec<&String> = page
                .iter()
                .filter(|(_, fields)| carries_personal_data_of(fields, subject, email))
                .map(|(id, _)| id)
                .collect();
            if !doomed.is_empty() {
                let n: u64 = redis::cmd("XDEL").arg(&key).arg(&doomed).query_async(&mut conn).await?;
                forgotten += n;
            }
            if page.len() < 500 {
                break;
            }
            start = format!("({last}");
        }
    }
    Ok(forgotten)
}

/// Whether a stream entry is about `subject` (or `email`) and holds personal
/// data: an e-mail address, or a name that is not the erasure's own.
fn carries_personal_data_of(fields: &[(String, String)], subject: Uuid, email: Option<&str>) -> bool {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(payload) = field("payload").and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()) else {
        return false;
    };
    let subject = subject.to_string();
    let about = field("entity") == Some(subject.as_str())
        || payload["userId"].as_str() == Some(subject.as_str())
        || email.is_some_and(|e| payload["email"].as_str().is_some_and(|p| p.eq_ignore_ascii_case(e)));
    let personal = payload.get("email").is_some_and(|e| !e.is_null())
        || (payload["displayName"].is_string() && payload["erased"] != serde_json::Value::Bool(true));
    about && personal
}

/// The dead-letter stream: poison events of every family and group.
pub fn dead_letter_key(prefix: &str) -> String {
    format!("{prefix}:dead")
}

/// A consumer group's position: entries not yet delivered to it (`lag`,
/// `None` when Redis cannot tell) and delivered but unacknowledged (`pending`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    pub lag: Option<i64>,
    pub pending: i64,
}

/// Reads [`GroupStats`] (`XINFO GROUPS`); a group not created yet lags by
/// the whole stream.
pub async fn group_stats(kv: &Kv, prefix: &str, family: &str, group: &str) -> anyhow::Result<GroupStats> {
    let mut conn = kv.connection()?;
    let key = stream_key(prefix, family);
    let groups: redis::RedisResult<Vec<std::collections::HashMap<String, redis::Value>>> =
        redis::cmd("XINFO").arg("GROUPS").arg(&key).query_async(&mut conn).await;
    let groups = match groups {
        Ok(g) => g,
        // No stream yet: nothing was ever published, nothing lags.
        Err(e) if e.to_string().contains("no such key") => {
            return Ok(GroupStats {
                lag: Some(0),
                pending: 0,
            })
        }
        Err(e) => return Err(e.into()),
    };
    let int = |v: Option<&redis::Value>| match v {
        Some(redis::Value::Int(n)) => Some(*n),
        _ => None,
    };
    match groups
        .iter()
        .find(|g| matches!(g.get("name"), Some(redis::Value::BulkString(n)) if n == group.as_bytes()))
    {
        Some(g) => Ok(GroupStats {
            lag: int(g.get("lag")),
            pending: int(g.get("pending")).unwrap_or(0),
        }),
        None => {
            let len: i64 = redis::cmd("XLEN").arg(&key).query_async(&mut conn).await?;
            Ok(GroupStats {
                lag: Some(len),
                pending: 0,
            })
        }
    }
}

/// Entries in the dead-letter stream (what operators must look at).
pub async fn dead_letters(kv: &Kv, prefix: &str) -> anyhow::Result<i64> {
    let mut conn = kv.connection()?;
    Ok(redis::cmd("XLEN")
        .arg(dead_letter_key(prefix))
        .query_async(&mut conn)
        .await?)
}
