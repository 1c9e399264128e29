//! Clerk session-token verification (RS256 JWTs), with no Clerk SDK and, with a PEM key,
//! no network. See `docs/clerk.md` for the checks and the claims they expect.

use crate::clock::SharedClock;
use crate::config::{ClerkConfig, ClerkKey};
use crate::email::Email;
use crate::error::{Error, Result};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use futures::future::{BoxFuture, FutureExt, Shared};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A Clerk user id (`sub`), e.g. `user_2abc…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<UserId> for mongodb::bson::Bson {
    fn from(id: UserId) -> Self {
        mongodb::bson::Bson::String(id.0)
    }
}

impl From<&str> for UserId {
    fn from(id: &str) -> Self {
        UserId(id.to_owned())
    }
}

impl From<String> for UserId {
    fn from(id: String) -> Self {
        UserId(id)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const LEEWAY_SECS: u64 = 5;

/// How long JWKS keys are trusted and how often Clerk may be asked again.
#[derive(Debug, Clone, Copy)]
pub struct JwksTiming {
    /// Clerk's SDK caches keys for 5 minutes; past that, the next request refetches, so a
    /// key Clerk has removed stops working within this long.
    pub ttl: Duration,
    /// A floor between successful refetches, so a flood of tokens with made-up `kid`s
    /// cannot turn us into an amplifier against Clerk.
    pub refetch_floor: Duration,
    /// After a failed fetch, so a blip at Clerk costs seconds, not the whole floor.
    pub retry_after_failure: Duration,
    /// Requests with an unknown `kid` wait for the fetch, so it must give up quickly.
    pub fetch_timeout: Duration,
}

impl Default for JwksTiming {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            refetch_floor: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    sts: Option<String>,
    /// Kept raw so that a malformed template (a number, an object) means "no e-mail"
    /// rather than refusing a user's otherwise valid session.
    #[serde(default)]
    email: Option<Value>,
    /// Raw for the same reason: a `metadata` that is not an object just means "not admin".
    #[serde(default)]
    metadata: Option<Value>,
    /// `Some(Null)` for an explicit null, which Clerk's SDK refuses as non-numeric.
    #[serde(default, deserialize_with = "present")]
    iat: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The signed-in caller, as proven by a verified token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: Option<Email>,
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

/// Resolves to whether the fetch succeeded; the keys themselves land in the state.
type Fetch = Shared<BoxFuture<'static, bool>>;

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, DecodingKey>,
    /// Of the last successful fetch, in ms on the clock.
    fetched_at: Option<i64>,
    /// Of the last failed fetch, if no fetch has succeeded since.
    failed_at: Option<i64>,
    in_flight: Option<Fetch>,
}

struct JwksSource {
    url: String,
    http: reqwest::Client,
    timing: JwksTiming,
    /// The cache's ages are read on it, so a test moves it past the TTL instead of sleeping.
    clock: SharedClock,
    /// A plain mutex, held only to read or swap entries and never across the HTTP fetch,
    /// so requests with a cached key never wait for Clerk.
    state: Mutex<JwksState>,
}

enum Refusal {
    Invalid(&'static str),
    KeysUnavailable,
}

impl From<&'static str> for Refusal {
    fn from(reason: &'static str) -> Self {
        Refusal::Invalid(reason)
    }
}

enum Keys {
    Pem(DecodingKey),
    Jwks(Arc<JwksSource>),
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
    pub fn new(cfg: &ClerkConfig, clock: SharedClock) -> anyhow::Result<Self> {
        Self::with_jwks_timing(cfg, JwksTiming::default(), clock)
    }

    /// Like `new`, with other JWKS cache lifetimes and floors (tests use seconds, not
    /// minutes). Ignored with a PEM key.
    pub fn with_jwks_timing(
        cfg: &ClerkConfig,
        timing: JwksTiming,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let keys = match &cfg.key {
            ClerkKey::Pem(pem) => Keys::Pem(DecodingKey::from_rsa_pem(pem.as_bytes())?),
            ClerkKey::Jwks(url) => Keys::Jwks(Arc::new(JwksSource {
                url: url.clone(),
                http: reqwest::Client::builder()
                    .timeout(timing.fetch_timeout)
                    .build()?,
                timing,
                clock,
                state: Mutex::new(JwksState::default()),
            })),
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

    /// Verifies a bearer token. Every verdict on the token is the same 401 to the client,
    /// with the reason in the logs; not being able to get Clerk's keys is a 503, because
    /// the token may well be fine and a 401 would make the storefront sign the user out.
    pub async fn verify(&self, token: &str) -> Result<User> {
        self.verify_inner(token)
            .await
            .map_err(|refusal| match refusal {
                Refusal::Invalid(reason) => {
                    tracing::info!(reason, "token refused");
                    Error::unauthenticated("A valid session token is required")
                }
                Refusal::KeysUnavailable => {
                    let secs = match &self.keys {
                        Keys::Jwks(src) => src.timing.retry_after_failure.as_secs_f64().ceil(),
                        Keys::Pem(_) => 1.0,
                    };
                    Error::try_again(
                        (secs as u64).max(1),
                        "Sign-in cannot be checked right now; please retry",
                    )
                }
            })
    }

    async fn verify_inner(&self, token: &str) -> std::result::Result<User, Refusal> {
        if token.split('.').count() != 3 {
            return Err("not a JWT".into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "bad header")?;
        if header.typ.as_deref().is_some_and(|t| t != "JWT") {
            return Err("typ is not JWT".into());
        }
        // Pinning the algorithm family before choosing a key is what defeats `alg: none`
        // and HS256-signed-with-the-public-key confusion.
        if !self.validation.algorithms.contains(&header.alg) {
            return Err("algorithm not allowed".into());
        }
        let key = match &self.keys {
            Keys::Pem(key) => key.clone(),
            Keys::Jwks(src) => src.key(header.kid.as_deref().ok_or("no kid")?).await?,
        };
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
            return Err("empty sub".into());
        }
        // jsonwebtoken does not look at `iat`; Clerk's SDK does, with the same leeway.
        if let Some(iat) = &claims.iat {
            let iat = iat.as_f64().ok_or("iat not numeric")?;
            let now = jsonwebtoken::get_current_timestamp() as f64;
            if iat > now + LEEWAY_SECS as f64 {
                return Err("issued in the future".into());
            }
        }
        if !self.authorized_parties.is_empty()
            && !claims
                .azp
                .as_ref()
                .is_some_and(|azp| self.authorized_parties.contains(azp))
        {
            return Err("azp not authorized".into());
        }
        if claims.sts.as_deref() == Some("pending") {
            return Err("session pending".into());
        }
        let role_admin = claims
            .metadata
            .as_ref()
            .and_then(|m| m.get("role"))
            .is_some_and(|r| r.as_str() == Some("admin"));
        let is_admin = role_admin || self.admin_user_ids.contains(&claims.sub);
        Ok(User {
            id: UserId(claims.sub),
            email: claims.email.and_then(|e| e.as_str().and_then(Email::parse)),
            is_admin,
        })
    }
}

impl JwksSource {
    fn state(&self) -> MutexGuard<'_, JwksState> {
        // Every critical section leaves the state consistent, so a panic elsewhere while
        // holding it does not make it unusable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn key(self: &Arc<Self>, kid: &str) -> std::result::Result<DecodingKey, Refusal> {
        let fetch = {
            let mut s = self.state();
            let now = self.clock.now_ms();
            let t = &self.timing;
            let within = |at: Option<i64>, span: Duration| {
                at.is_some_and(|at| u128::try_from(now - at).unwrap_or(0) < span.as_millis())
            };
            let fresh = within(s.fetched_at, t.ttl);
            let cached = s.keys.get(kid).cloned();
            if let (Some(key), true) = (&cached, fresh) {
                return Ok(key.clone());
            }
            let backing_off = within(s.failed_at, t.retry_after_failure);
            // Past the TTL with Clerk failing: a Clerk outage should not sign everyone
            // out, so the old key keeps working while fetches are retried in the
            // background; it stops at the first fetch that succeeds without it.
            if let (Some(key), Some(_)) = (&cached, s.failed_at) {
                if s.in_flight.is_none() && !backing_off {
                    drop(self.start_fetch(&mut s));
                }
                return Ok(key.clone());
            }
            if let Some(f) = s.in_flight.clone() {
                f
            } else if backing_off {
                return Err(Refusal::KeysUnavailable);
            } else if fresh && within(s.fetched_at, t.refetch_floor) {
                return Err("unknown kid (refetch rate-limited)".into());
            } else {
                self.start_fetch(&mut s)
            }
        };
        let fetched = fetch.await;
        let s = self.state();
        match s.keys.get(kid) {
            Some(key) => Ok(key.clone()),
            None if fetched => Err("unknown kid".into()),
            None => Err(Refusal::KeysUnavailable),
        }
    }

    /// The fetch runs as its own task so that it finishes (and updates the cache) even if
    /// the request that started it is dropped; everyone else awaits the same result.
    fn start_fetch(self: &Arc<Self>, s: &mut JwksState) -> Fetch {
        let this = Arc::clone(self);
        let task = tokio::spawn(async move {
            let result = this.fetch().await;
            let mut s = this.state();
            s.in_flight = None;
            match result {
                Ok(keys) => {
                    s.keys = keys;
                    s.fetched_at = Some(this.clock.now_ms());
                    s.failed_at = None;
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "JWKS fetch failed");
                    s.failed_at = Some(this.clock.now_ms());
                    false
                }
            }
        });
        let this = Arc::clone(self);
        let fetch = task
            .map(move |done| {
                done.unwrap_or_else(|_| {
                    // The task died before recording its outcome; without this every later
                    // unknown kid would await the same dead fetch forever.
                    let mut s = this.state();
                    s.in_flight = None;
                    s.failed_at = Some(this.clock.now_ms());
                    false
                })
            })
            .boxed()
            .shared();
        s.in_flight = Some(fetch.clone());
        fetch
    }

    async fn fetch(&self) -> reqwest::Result<HashMap<String, DecodingKey>> {
        let jwks: Jwks = self
            .http
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(jwks
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter_map(|k| {
                let key =
                    DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
                Some((k.kid?, key))
            })
            .collect())
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
