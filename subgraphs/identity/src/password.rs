//! argon2id password hashing. Hashing runs on the blocking pool so a burst of
//! logins cannot stall the async runtime.

use std::sync::LazyLock;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use platform::AppError;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

/// Verified against when the account does not exist, so that a wrong email
/// costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_blocking("not-a-real-password").unwrap_or_default());

pub fn validate(field: &str, password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(AppError::bad_input(
            field,
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if n > MAX_LENGTH {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))
}

pub async fn hash(password: &str) -> Result<String, AppError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
}

/// `None` as the stored hash verifies against a dummy and returns false.
pub async fn verify(password: &str, stored: Option<&str>) -> bool {
    let password = password.to_string();
    let stored = stored.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH.as_str(), false),
        };
        let ok = PasswordHash::new(hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}
