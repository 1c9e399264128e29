//! Typed configuration read from the environment once per cold start.
//!
//! Every problem is collected and reported together, so a broken deploy shows everything
//! that is wrong in one log line instead of one setting per failed cold start.

use crate::email::Email;
use std::collections::HashMap;
use std::fmt;

/// A value that must never reach a log line or a `Debug` dump.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The only way to read a secret; grep for it when auditing.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub enum ClerkKey {
    /// The instance's PEM public key: verification needs no network.
    Pem(String),
    /// A JWKS document, fetched and cached.
    Jwks(String),
}

#[derive(Debug, Clone)]
pub struct ClerkConfig {
    pub issuer: String,
    pub key: ClerkKey,
    pub authorized_parties: Vec<String>,
    pub admin_user_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhonePeEnv {
    Sandbox,
    Production,
}

#[derive(Debug, Clone)]
pub struct PhonePeConfig {
    pub env: PhonePeEnv,
    pub pg_url: String,
    pub oauth_url: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub client_version: String,
}

/// The Basic-auth pair PhonePe sends with every callback; only the webhook reads it.
#[derive(Debug, Clone)]
pub struct WebhookCredentials {
    pub username: Secret<String>,
    pub password: Secret<String>,
}

/// The storefront's page of one order (`{orderId}` is replaced): PhonePe sends the shopper
/// back to it after paying, and the payment-failed mail links to it to pay again.
#[derive(Debug, Clone)]
pub struct PaymentRedirect {
    pub url: String,
}

impl PaymentRedirect {
    /// The page of the order named `order`: its id or its number, which every order route
    /// takes alike.
    pub fn for_order(&self, order: &str) -> String {
        self.url.replace("{orderId}", order)
    }
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub from: String,
    pub reply_to: Option<String>,
    pub region: String,
    /// Points the SES client at an emulator (moto) in dev and tests.
    pub endpoint_url: Option<String>,
    /// Where a mail sends the customer to see their order and pay for it
    /// (`PHONEPE_REDIRECT_URL`, the page PhonePe returns them to).
    pub order_page: PaymentRedirect,
}

/// The settings every function reads: the database and Clerk. (The shop's rules are the
/// shop's sections, read beside this one.)
#[derive(Debug, Clone)]
pub struct Config {
    pub mongodb_uri: Secret<String>,
    pub mongodb_db: String,
    pub clerk: ClerkConfig,
    /// `TEST_FAULTS=1`: honour `x-test-fault` request headers that make checkout fail midway,
    /// so tests can prove it leaves nothing behind. Only tests set it; never deployed.
    pub test_faults: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// The environment as a function reads it, and every problem found so far.
pub struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// The trimmed value; blank counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value, or a recorded problem (and an empty string, so reading can go on).
    pub fn required(&mut self, name: &str) -> String {
        self.get(name).unwrap_or_else(|| {
            self.problems.push(format!("{name} is required"));
            String::new()
        })
    }

    pub fn url(&mut self, name: &str, value: Option<String>) -> Option<String> {
        let value = value?;
        if value.starts_with("http://") || value.starts_with("https://") {
            Some(value.trim_end_matches('/').to_owned())
        } else {
            self.problems.push(format!("{name} must be an http(s) URL"));
            None
        }
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }
}

/// One section of the settings. A function names the sections it needs as a tuple, so it
/// neither reads nor holds the others (nor their secrets).
pub trait Section: Sized {
    /// Reads the section, recording every problem; `None` only when a problem was recorded.
    fn read(r: &mut Reader<'_>) -> Option<Self>;
}

/// Reads the sections `S` from the process environment, failing once with every problem.
pub fn from_env<S: Section>() -> Result<S, ConfigError> {
    let vars: HashMap<String, String> = std::env::vars().collect();
    from_vars(&vars)
}

pub fn from_vars<S: Section>(vars: &HashMap<String, String>) -> Result<S, ConfigError> {
    let mut r = Reader {
        vars,
        problems: Vec::new(),
    };
    let section = S::read(&mut r);
    // Two sections may read one variable (the mail and the redirect both read
    // `PHONEPE_REDIRECT_URL`): its problem is listed once.
    let mut seen = std::collections::HashSet::new();
    let mut problems = r.problems;
    problems.retain(|p| seen.insert(p.clone()));
    match section {
        Some(s) if problems.is_empty() => Ok(s),
        _ => Err(ConfigError { problems }),
    }
}

macro_rules! tuple_section {
    ($($t:ident),+) => {
        impl<$($t: Section),+> Section for ($($t,)+) {
            #[allow(non_snake_case)]
            fn read(r: &mut Reader<'_>) -> Option<Self> {
                // Every section is read before any is judged, so all problems are listed.
                $(let $t = $t::read(r);)+
                Some(($($t?,)+))
            }
        }
    };
}
tuple_section!(A);
tuple_section!(A, B);
tuple_section!(A, B, C);
tuple_section!(A, B, C, D);
tuple_section!(A, B, C, D, E);
tuple_section!(A, B, C, D, E, F);
tuple_section!(A, B, C, D, E, F, G);
tuple_section!(A, B, C, D, E, F, G, H);
tuple_section!(A, B, C, D, E, F, G, H, I);

impl Section for Config {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let mongodb_uri = r.required("MONGODB_URI");
        if !(mongodb_uri.is_empty()
            || mongodb_uri.starts_with("mongodb://")
            || mongodb_uri.starts_with("mongodb+srv://"))
        {
            r.problem("MONGODB_URI must start with mongodb:// or mongodb+srv://");
        }
        let mongodb_db = r.get("MONGODB_DB").unwrap_or_else(|| "pitalya".into());
        if mongodb_db.contains(['/', '\\', '.', ' ', '"', '$']) {
            r.problem("MONGODB_DB contains a character MongoDB forbids");
        }

        let issuer = r.required("CLERK_ISSUER");
        let issuer_url = r.url(
            "CLERK_ISSUER",
            Some(issuer.clone()).filter(|s| !s.is_empty()),
        );
        let key = match (r.get("CLERK_JWT_KEY"), r.get("CLERK_JWKS_URL")) {
            (Some(pem), _) => {
                // Env files often carry the PEM with literal \n; accept both forms.
                let pem = pem.replace("\\n", "\n");
                if jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).is_err() {
                    r.problem("CLERK_JWT_KEY is not an RSA public key in PEM form");
                }
                ClerkKey::Pem(pem)
            }
            (None, jwks) => {
                let default = issuer_url
                    .as_ref()
                    .map(|i| format!("{i}/.well-known/jwks.json"));
                match r.url("CLERK_JWKS_URL", jwks.or(default)) {
                    Some(url) => ClerkKey::Jwks(url),
                    None => ClerkKey::Jwks(String::new()),
                }
            }
        };
        let clerk = ClerkConfig {
            issuer: issuer.trim_end_matches('/').to_owned(),
            key,
            authorized_parties: r.list("CLERK_AUTHORIZED_PARTIES"),
            admin_user_ids: r.list("ADMIN_USER_IDS"),
        };

        let test_faults = matches!(r.get("TEST_FAULTS").as_deref(), Some("1" | "true"));

        Some(Config {
            mongodb_uri: Secret::new(mongodb_uri),
            mongodb_db,
            clerk,
            test_faults,
        })
    }
}

impl Section for PhonePeConfig {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let env = match r.get("PHONEPE_ENV").as_deref() {
            None | Some("sandbox") => PhonePeEnv::Sandbox,
            Some("production") => PhonePeEnv::Production,
            Some(_) => {
                r.problem("PHONEPE_ENV must be sandbox or production");
                PhonePeEnv::Sandbox
            }
        };
        let (pg_default, oauth_default) = match env {
            PhonePeEnv::Sandbox => (
                "https://api-preprod.phonepe.com/apis/pg-sandbox",
                "https://api-preprod.phonepe.com/apis/pg-sandbox",
            ),
            PhonePeEnv::Production => (
                "https://api.phonepe.com/apis/pg",
                "https://api.phonepe.com/apis/identity-manager",
            ),
        };
        let pg = r.get("PHONEPE_PG_URL");
        let pg_url = r
            .url("PHONEPE_PG_URL", pg)
            .unwrap_or_else(|| pg_default.into());
        let oauth = r.get("PHONEPE_OAUTH_URL");
        let oauth_url = r
            .url("PHONEPE_OAUTH_URL", oauth)
            .unwrap_or_else(|| oauth_default.into());
        Some(PhonePeConfig {
            env,
            pg_url,
            oauth_url,
            client_id: r.required("PHONEPE_CLIENT_ID"),
            client_secret: Secret::new(r.required("PHONEPE_CLIENT_SECRET")),
            client_version: r
                .get("PHONEPE_CLIENT_VERSION")
                .unwrap_or_else(|| "1".into()),
        })
    }
}

impl Section for WebhookCredentials {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let username = r.required("PHONEPE_WEBHOOK_USERNAME");
        let password = r.required("PHONEPE_WEBHOOK_PASSWORD");
        // Required above, so an empty pair (which would verify nothing) never gets this far.
        (!username.is_empty() && !password.is_empty()).then(|| WebhookCredentials {
            username: Secret::new(username),
            password: Secret::new(password),
        })
    }
}

impl Section for PaymentRedirect {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let redirect = r.required("PHONEPE_REDIRECT_URL");
        let url = r.url(
            "PHONEPE_REDIRECT_URL",
            Some(redirect).filter(|s| !s.is_empty()),
        )?;
        Some(PaymentRedirect { url })
    }
}

impl Section for MailConfig {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let from = r.required("SES_FROM");
        if !from.is_empty() && Email::parse_mailbox(&from).is_none() {
            r.problem("SES_FROM must be an email address (orders@… or Name <orders@…>)");
        }
        let endpoint = r.get("AWS_ENDPOINT_URL_SES");
        let endpoint_url = r.url("AWS_ENDPOINT_URL_SES", endpoint);
        let order_page = PaymentRedirect::read(r);
        Some(MailConfig {
            from,
            reply_to: r.get("SES_REPLY_TO"),
            region: r.get("AWS_REGION").unwrap_or_else(|| "ap-south-1".into()),
            endpoint_url,
            order_page: order_page?,
        })
    }
}

/// An environment of exactly these variables, for the tests of every section's reader (the
/// shop's sections are read in the shop crate).
pub fn environment_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use super::environment_of as vars;

    type All = (
        Config,
        PhonePeConfig,
        WebhookCredentials,
        PaymentRedirect,
        MailConfig,
    );

    #[test]
    fn missing_settings_are_all_reported_at_once() {
        let err = from_vars::<All>(&vars(&[])).unwrap_err();
        let text = err.to_string();
        for name in [
            "MONGODB_URI",
            "CLERK_ISSUER",
            "PHONEPE_CLIENT_ID",
            "PHONEPE_WEBHOOK_USERNAME",
            "PHONEPE_REDIRECT_URL",
            "SES_FROM",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
        // Read by the redirect and the mail sections alike, reported once.
        assert_eq!(text.matches("PHONEPE_REDIRECT_URL").count(), 1, "{text}");
    }

    #[test]
    fn secrets_never_print() {
        let cfg = from_vars::<Config>(&vars(&[
            ("MONGODB_URI", "mongodb://user:hunter2@localhost"),
            ("CLERK_ISSUER", "https://clerk.example.com"),
        ]))
        .unwrap();
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(
            matches!(cfg.clerk.key, ClerkKey::Jwks(ref u) if u == "https://clerk.example.com/.well-known/jwks.json")
        );
        let hook = from_vars::<WebhookCredentials>(&vars(&[
            ("PHONEPE_WEBHOOK_USERNAME", "hook"),
            ("PHONEPE_WEBHOOK_PASSWORD", "hunter2"),
        ]))
        .unwrap();
        assert!(!format!("{hook:?}").contains("hunter2"));
    }

    #[test]
    fn sections_not_needed_are_not_required() {
        // No PhonePe, webhook, redirect, mail or seller setting: only the core is read.
        assert!(from_vars::<Config>(&vars(&[
            ("MONGODB_URI", "mongodb://x"),
            ("CLERK_ISSUER", "https://c.example"),
        ]))
        .is_ok());
    }
}
