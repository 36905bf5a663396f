//! Identity's own settings, under `[identity]` / `HUB_IDENTITY__…`. Its key
//! material (`signing_key_files`, `encryption_keys`, `keys_dir`) sits in the
//! same section and is read by the platform (`Runtime::signing_keys`,
//! `Runtime::field_cipher`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct IdentitySettings {
    #[serde(default = "default_refresh_ttl")]
    pub refresh_ttl_secs: i64,
    #[serde(default = "default_link_ttl")]
    pub invite_ttl_secs: i64,
    #[serde(default = "default_reset_ttl")]
    pub reset_ttl_secs: i64,
    /// Failed sign-ins one organization takes per 15 minutes, across all its
    /// accounts, before further attempts are refused (password spraying).
    #[serde(default = "default_org_failures")]
    pub org_failed_sign_in_limit: u64,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            refresh_ttl_secs: default_refresh_ttl(),
            invite_ttl_secs: default_link_ttl(),
            reset_ttl_secs: default_reset_ttl(),
            org_failed_sign_in_limit: default_org_failures(),
        }
    }
}

fn default_refresh_ttl() -> i64 {
    30 * 24 * 3600
}
fn default_link_ttl() -> i64 {
    7 * 24 * 3600
}
fn default_reset_ttl() -> i64 {
    3600
}
fn default_org_failures() -> u64 {
    100
}
