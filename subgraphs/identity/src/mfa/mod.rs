//! TOTP multi-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step).
//! A code works once: the last accepted time step is stored.

use async_graphql::{Context, Object, Result, SimpleObject};
use platform::crypto::FieldCipher;
use platform::{
    guards::{auth, UserOnly},
    mutation::{mutate, Audit},
    AppError, AppResult,
};
use sqlx::PgConnection;
use totp_rs::{Algorithm, Secret, TOTP};
use uuid::Uuid;

use crate::{state, user};

const STEP: u64 = 30;

fn totp(secret_b32: &str, account: &str) -> AppResult<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored TOTP secret unreadable: {e:?}")))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some("Hub".into()),
        account.to_string(),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("TOTP: {e}")))
}

/// The time step a code belongs to, if it is valid now (±1 step of clock skew).
pub fn matching_step(secret_b32: &str, code: &str, now: u64) -> AppResult<Option<i64>> {
    let t = totp(secret_b32, "user")?;
    let current = now / STEP;
    Ok([current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| t.generate(step * STEP) == code)
        .map(|s| s as i64))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn seed_aad(user: Uuid) -> String {
    format!("identity.users.totp:{user}")
}

/// The user's TOTP seed (base32), opened from its sealed form.
fn open_seed(cipher: &FieldCipher, creds: &user::db::Credentials) -> AppResult<Option<String>> {
    creds
        .totp_sealed()
        .map(|s| cipher.open_str(&s, &seed_aad(creds.id)))
        .transpose()
}

/// Checks a sign-in code and burns its time step.
pub async fn check_and_consume(
    conn: &mut PgConnection,
    cipher: &FieldCipher,
    creds: &user::db::Credentials,
    code: &str,
) -> AppResult<bool> {
    let Some(secret) = open_seed(cipher, creds)? else {
        return Ok(false);
    };
    match matching_step(&secret, code, now())? {
        Some(step) => Ok(user::db::consume_totp_step(conn, creds.id, step).await?),
        None => Ok(false),
    }
}

/// A TOTP secret to load into an authenticator app.
#[derive(SimpleObject)]
pub struct TotpEnrollment {
    /// Base32 secret, for manual entry.
    pub secret: String,
    /// `otpauth://` URL, for a QR code.
    pub otpauth_url: String,
}

#[derive(Default)]
pub struct MfaMutation;

#[Object]
impl MfaMutation {
    /// Starts TOTP enrollment; it takes effect after `confirmTotp`.
    #[graphql(guard = "UserOnly")]
    async fn enroll_totp(&self, ctx: &Context<'_>) -> Result<TotpEnrollment> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let user_id = caller.user_id().ok_or(AppError::Forbidden)?;
        Ok(mutate(ctx, async |tx| {
            let creds = user::credentials_of(tx, user_id).await?;
            if creds.totp_enabled {
                return Err(AppError::Conflict("MFA is already enabled; disable it first".into()));
            }
            let secret = Secret::generate_secret().to_encoded().to_string();
            let email = user::db::by_ids(tx, &[user_id])
                .await?
                .into_iter()
                .next()
                .map(|u| u.email)
                .unwrap_or_default();
            let url = totp(&secret, &email)?.get_url();
            let sealed = st.cipher.seal_str(&secret, &seed_aad(user_id))?;
            user::db::set_totp(tx, user_id, Some(&sealed), false).await?;
            Ok((
                TotpEnrollment {
                    secret,
                    otpauth_url: url,
                },
                Audit::new("mfa.enroll", "User", user_id),
            ))
        })
        .await?)
    }

    /// Confirms enrollment with a current code; sign-in then requires codes.
    #[graphql(guard = "UserOnly")]
    async fn confirm_totp(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        set_enabled(ctx, code.trim(), true, "mfa.confirm").await
    }

    /// Turns TOTP off; needs a current code.
    #[graphql(guard = "UserOnly")]
    async fn disable_totp(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        set_enabled(ctx, code.trim(), false, "mfa.disable").await
    }
}

async fn set_enabled(ctx: &Context<'_>, code: &str, enable: bool, action: &str) -> Result<bool> {
    let st = state(ctx)?;
    let caller = auth(ctx)?;
    let user_id = caller.user_id().ok_or(AppError::Forbidden)?;
    Ok(mutate(ctx, async |tx| {
        let creds = user::credentials_of(tx, user_id).await?;
        let Some(secret) = open_seed(&st.cipher, &creds)? else {
            return Err(AppError::Conflict("no TOTP enrollment in progress".into()));
        };
        if creds.totp_enabled == enable {
            return Err(AppError::Conflict(format!(
                "MFA is already {}",
                if enable { "enabled" } else { "disabled" }
            )));
        }
        if matching_step(&secret, code, now())?.is_none() {
            return Err(AppError::bad_input("code", "is not the current code"));
        }
        // Enabling keeps the sealed seed; disabling forgets it.
        let kept = if enable { creds.totp_sealed() } else { None };
        user::db::set_totp(tx, user_id, kept.as_ref(), enable).await?;
        Ok((true, Audit::new(action, "User", user_id)))
    })
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_neighbours_only() {
        let secret = Secret::generate_secret().to_encoded().to_string();
        let t = totp(&secret, "a@b.c").unwrap();
        let now = 1_700_000_000u64;
        let code = t.generate(now);
        assert_eq!(matching_step(&secret, &code, now).unwrap(), Some((now / STEP) as i64));
        assert!(matching_step(&secret, &code, now + STEP).unwrap().is_some());
        assert!(matching_step(&secret, &code, now + 3 * STEP).unwrap().is_none());
    }
}
