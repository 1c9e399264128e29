//! Mints Clerk-shaped RS256 session tokens with a local key, for `make token` and tests.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const DEV_KID: &str = "ins_pitalya_dev";

#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub issuer: String,
    pub user_id: String,
    pub admin: bool,
    pub email: Option<String>,
    pub ttl_secs: i64,
    pub azp: Option<String>,
}

/// The claims Clerk puts in a v2 session token, plus the conventional `metadata` and
/// `email` template claims.
pub fn claims(spec: &TokenSpec) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "sub": spec.user_id,
        "sid": format!("sess_{}", uuid::Uuid::new_v4().simple()),
        "iss": spec.issuer,
        "v": 2,
        "iat": now,
        "nbf": now - 2,
        "exp": now + spec.ttl_secs,
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "fva": [0, -1],
    });
    if let Some(azp) = &spec.azp {
        c["azp"] = json!(azp);
    }
    if spec.admin {
        c["metadata"] = json!({ "role": "admin" });
    }
    if let Some(email) = &spec.email {
        c["email"] = json!(email);
    }
    c
}

pub fn sign(private_pem: &[u8], kid: &str, claims: &Value) -> anyhow::Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(private_pem)?;
    Ok(jsonwebtoken::encode(&header, claims, &key)?)
}
