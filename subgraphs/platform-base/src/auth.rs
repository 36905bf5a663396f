//! Who is calling: roles, verticals, access-token claims and the
//! [`AuthContext`] every resolver reads.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Roles of a membership, as in DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::Enum),
    graphql(rename_items = "SCREAMING_SNAKE_CASE")
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    OrgAdmin,
    Auditor,
    Practitioner,
    Nurse,
    Secretary,
    BillingClerk,
    ProcurementOfficer,
    ProcurementViewer,
    SupplierAdmin,
    SupplierUser,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::PlatformAdmin,
        Role::OrgAdmin,
        Role::Auditor,
        Role::Practitioner,
        Role::Nurse,
        Role::Secretary,
        Role::BillingClerk,
        Role::ProcurementOfficer,
        Role::ProcurementViewer,
        Role::SupplierAdmin,
        Role::SupplierUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::OrgAdmin => "org_admin",
            Role::Auditor => "auditor",
            Role::Practitioner => "practitioner",
            Role::Nurse => "nurse",
            Role::Secretary => "secretary",
            Role::BillingClerk => "billing_clerk",
            Role::ProcurementOfficer => "procurement_officer",
            Role::ProcurementViewer => "procurement_viewer",
            Role::SupplierAdmin => "supplier_admin",
            Role::SupplierUser => "supplier_user",
        }
    }

    /// The vertical a role belongs to, if it is not a platform role.
    pub fn vertical(self) -> Option<Vertical> {
        match self {
            Role::Practitioner | Role::Nurse | Role::Secretary | Role::BillingClerk => Some(Vertical::Medical),
            Role::ProcurementOfficer | Role::ProcurementViewer | Role::SupplierAdmin | Role::SupplierUser => {
                Some(Vertical::Public)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

/// Industry verticals an organization can enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Vertical {
    Medical,
    Public,
}

impl Vertical {
    pub fn as_str(self) -> &'static str {
        match self {
            Vertical::Medical => "medical",
            Vertical::Public => "public",
        }
    }
}

impl FromStr for Vertical {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "medical" => Ok(Vertical::Medical),
            "public" => Ok(Vertical::Public),
            _ => Err(format!("unknown vertical `{s}`")),
        }
    }
}

/// Claims of a Hub access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id, or partner client id for `client: partner`.
    pub sub: String,
    pub org: Uuid,
    pub roles: Vec<Role>,
    pub verticals: Vec<Vertical>,
    /// Session id (users) — revocation is keyed on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Authentication methods: `pwd`, `otp`, `client_secret`.
    #[serde(default)]
    pub amr: Vec<String>,
    /// `partner` for client-credentials tokens; absent for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// The principal behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(Uuid),
    Partner(Uuid),
}

/// The verified caller of one request, placed in the GraphQL request data.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub principal: Principal,
    pub organization_id: Uuid,
    pub roles: Vec<Role>,
    pub verticals: Vec<Vertical>,
    pub session_id: Option<Uuid>,
    pub token_id: Uuid,
    pub scopes: Vec<String>,
    pub amr: Vec<String>,
    /// False when Redis could not be asked whether the session was revoked;
    /// revocation-sensitive writes must then be refused.
    pub revocation_checked: bool,
}

impl AuthContext {
    pub fn from_claims(claims: &Claims, revocation_checked: bool) -> Result<Self, String> {
        let sub = Uuid::parse_str(&claims.sub).map_err(|_| "sub is not a uuid".to_string())?;
        let principal = match claims.client.as_deref() {
            None => Principal::User(sub),
            Some("partner") => Principal::Partner(sub),
            Some(other) => return Err(format!("unknown client kind `{other}`")),
        };
        Ok(AuthContext {
            principal,
            organization_id: claims.org,
            roles: claims.roles.clone(),
            verticals: claims.verticals.clone(),
            session_id: claims.sid,
            token_id: claims.jti,
            scopes: claims.scopes.clone(),
            amr: claims.amr.clone(),
            revocation_checked,
        })
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User(id) => Some(id),
            Principal::Partner(_) => None,
        }
    }

    /// The user's or the partner client's id.
    pub fn principal_id(&self) -> Uuid {
        match self.principal {
            Principal::User(id) | Principal::Partner(id) => id,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_vertical(&self, v: Vertical) -> bool {
        self.verticals.contains(&v)
    }
}

/// Per-request metadata that is not about identity.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
}

/// The caller's verified access token as it arrived, for a resolver that
/// calls another service on the caller's behalf (content fetching a
/// patient's FHIR record for an export): that service checks it again.
#[derive(Clone)]
pub struct BearerToken(pub String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(…)")
    }
}

/// An `Authorization` header that is not `Bearer <token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Authorization header is not a bearer token")]
pub struct NotBearer;

/// The token of an `Authorization: Bearer …` header: `Ok(None)` without a
/// header, `Err(NotBearer)` for any other scheme or an empty token.
pub fn bearer_token(header: Option<&str>) -> Result<Option<&str>, NotBearer> {
    let Some(value) = header else {
        return Ok(None);
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(NotBearer),
    }
}
