//! Identity's own settings, under `[identity]` / `HUB_IDENTITY__…`. Its key
//! material (`signing_key_files`, `encryption_keys`, `keys_dir`) sits in the
//! same section and is read by the platform (`Runtime::signing_keys`,
//! `Runtime::field_cipher`).

use platform::rate_limit::Quota;
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
    /// `POST /oauth/token` requests per client id (guessing one client's secret).
    #[serde(default = "default_token_per_client")]
    pub token_rate_per_client: Quota,
    /// `POST /oauth/token` requests per client address (guessing across client ids).
    #[serde(default = "default_token_per_address")]
    pub token_rate_per_address: Quota,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            refresh_ttl_secs: default_refresh_ttl(),
            invite_ttl_secs: default_link_ttl(),
            reset_ttl_secs: default_reset_ttl(),
            org_failed_sign_in_limit: default_org_failures(),
            token_rate_per_client: default_token_per_client(),
            token_rate_per_address: default_token_per_address(),
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
// A partner's token lives 15 minutes: a well-behaved client asks a few
// times an hour, a fleet of workers a few times a second at most.
fn default_token_per_client() -> Quota {
    Quota {
        per_second: 2,
        burst: 20,
    }
}
fn default_token_per_address() -> Quota {
    Quota {
        per_second: 5,
        burst: 50,
    }
}
