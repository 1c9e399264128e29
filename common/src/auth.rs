//! Clerk session-token verification (RS256 JWTs), with no Clerk SDK and, with a PEM key,
//! no network. See `docs/clerk.md` for the checks and the claims they expect.

use crate::config::{ClerkConfig, ClerkKey};
use crate::error::{Error, Result};
use crate::ids::UserId;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// A floor between JWKS refetches, so a flood of tokens with made-up `kid`s cannot turn
/// us into a amplifier against Clerk.
const JWKS_REFETCH_FLOOR: Duration = Duration::from_secs(30);
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    sts: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    role: Option<serde_json::Value>,
}

/// The signed-in caller, as proven by a verified token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: Option<String>,
    pub is_admin: bool,
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Default)]
struct JwksCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

enum Keys {
    Pem(DecodingKey),
    Jwks {
        url: String,
        http: reqwest::Client,
        cache: RwLock<JwksCache>,
    },
}

/// Verifies Clerk session tokens. Built once per cold start; the JWKS cache lives as long
/// as the sandbox does.
pub struct Verifier {
    keys: Keys,
    validation: Validation,
    authorized_parties: Vec<String>,
    admin_user_ids: Vec<String>,
}

pub type Auth = Arc<Verifier>;

impl Verifier {
    pub fn new(cfg: &ClerkConfig) -> anyhow::Result<Self> {
        let keys = match &cfg.key {
            ClerkKey::Pem(pem) => Keys::Pem(DecodingKey::from_rsa_pem(pem.as_bytes())?),
            ClerkKey::Jwks(url) => Keys::Jwks {
                url: url.clone(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(3))
                    .build()?,
                cache: RwLock::new(JwksCache::default()),
            },
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[cfg.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Ok(Self {
            keys,
            validation,
            authorized_parties: cfg.authorized_parties.clone(),
            admin_user_ids: cfg.admin_user_ids.clone(),
        })
    }

    /// Verifies a bearer token; every failure is the same 401 to the client, with the
    /// reason in the logs.
    pub async fn verify(&self, token: &str) -> Result<User> {
        self.verify_inner(token).await.map_err(|reason| {
            tracing::info!(reason, "token refused");
            Error::unauthenticated("A valid session token is required")
        })
    }

    async fn verify_inner(&self, token: &str) -> std::result::Result<User, &'static str> {
        if token.split('.').count() != 3 {
            return Err("not a JWT");
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "bad header")?;
        if header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err("typ is not JWT");
        }
        // Pinning the algorithm family before choosing a key is what defeats `alg: none`
        // and HS256-signed-with-the-public-key confusion.
        if !self.validation.algorithms.contains(&header.alg) {
            return Err("algorithm not allowed");
        }
        let key = self.key_for(header.kid.as_deref()).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not yet valid",
                K::InvalidIssuer => "wrong issuer",
                K::InvalidSignature => "bad signature",
                K::MissingRequiredClaim(_) => "missing claim",
                _ => "invalid token",
            }
        })?;
        let claims = data.claims;
        if claims.sub.is_empty() {
            return Err("empty sub");
        }
        if !self.authorized_parties.is_empty()
            && !claims
                .azp
                .as_ref()
                .is_some_and(|azp| self.authorized_parties.contains(azp))
        {
            return Err("azp not authorized");
        }
        if claims.sts.as_deref() == Some("pending") {
            return Err("session pending");
        }
        let role_admin = claims
            .metadata
            .as_ref()
            .and_then(|m| m.role.as_ref())
            .is_some_and(|r| r.as_str() == Some("admin"));
        let is_admin = role_admin || self.admin_user_ids.contains(&claims.sub);
        Ok(User {
            id: UserId(claims.sub),
            email: claims.email.filter(|e| e.contains('@')),
            is_admin,
        })
    }

    async fn key_for(&self, kid: Option<&str>) -> std::result::Result<DecodingKey, &'static str> {
        match &self.keys {
            Keys::Pem(key) => Ok(key.clone()),
            Keys::Jwks { url, http, cache } => {
                let kid = kid.ok_or("no kid")?;
                if let Some(k) = cache.read().await.keys.get(kid) {
                    return Ok(k.clone());
                }
                let mut cache = cache.write().await;
                if let Some(k) = cache.keys.get(kid) {
                    return Ok(k.clone());
                }
                if cache
                    .fetched_at
                    .is_some_and(|t| t.elapsed() < JWKS_REFETCH_FLOOR)
                {
                    return Err("unknown kid (refetch rate-limited)");
                }
                cache.fetched_at = Some(Instant::now());
                let jwks: Jwks =
                    async { http.get(url).send().await?.error_for_status()?.json().await }
                        .await
                        .map_err(|e: reqwest::Error| {
                            tracing::warn!(error = %e, "JWKS fetch failed");
                            "JWKS unavailable"
                        })?;
                cache.keys = jwks
                    .keys
                    .into_iter()
                    .filter(|k| k.kty == "RSA")
                    .filter_map(|k| {
                        let key =
                            DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?)
                                .ok()?;
                        Some((k.kid?, key))
                    })
                    .collect();
                cache.keys.get(kid).cloned().ok_or("unknown kid")
            }
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl<S> FromRequestParts<S> for User
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let auth = Auth::from_ref(state);
        let token = bearer(parts)
            .ok_or_else(|| Error::unauthenticated("A bearer session token is required"))?;
        let user = auth.verify(token).await?;
        tracing::Span::current().record("user_id", user.id.as_str());
        Ok(user)
    }
}

/// A signed-in administrator; anyone else gets 403 (or 401 without a valid token).
#[derive(Debug, Clone)]
pub struct Admin(pub User);

impl<S> FromRequestParts<S> for Admin
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let user = User::from_request_parts(parts, state).await?;
        if user.is_admin {
            Ok(Admin(user))
        } else {
            Err(Error::forbidden())
        }
    }
}
