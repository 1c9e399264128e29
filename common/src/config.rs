//! Typed configuration read from the environment once per cold start.
//!
//! Every problem is collected and reported together, so a broken deploy shows everything
//! that is wrong in one log line instead of one setting per failed cold start.

use crate::money::Paise;
use crate::tax::{DocumentPrefix, Gstin};
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
    pub webhook_username: Secret<String>,
    pub webhook_password: Secret<String>,
    /// Storefront URL PhonePe sends the shopper back to; `{orderId}` is replaced.
    pub redirect_url: String,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub from: String,
    pub reply_to: Option<String>,
    pub region: String,
    /// Points the SES client at an emulator (moto) in dev and tests.
    pub endpoint_url: Option<String>,
}

/// What the shop charges for delivery. Plain paise here; the rule that applies them lives in
/// `pricing::quote`, so the cart, the coupon quote and checkout cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingConfig {
    /// `SHIPPING_FEE`: tax-inclusive, charged on every order below the threshold.
    pub fee: Paise,
    /// `FREE_SHIPPING_MIN`: `subtotal − discount` at or above this ships free; 0 means never.
    pub free_min: Paise,
}

/// The seller as invoices name it and as GST needs it: read by every function that prices a
/// cart or taxes an order, so a wrong GSTIN stops the deploy instead of reaching an invoice.
#[derive(Debug, Clone)]
pub struct SellerConfig {
    /// `SELLER_NAME`: the legal name.
    pub name: String,
    /// `SELLER_GSTIN`: its state code decides intra- or inter-state supply.
    pub gstin: Gstin,
    /// `SELLER_ADDRESS`: one line.
    pub address: String,
    /// `INVOICE_PREFIX` (default `PIT`).
    pub invoice_prefix: DocumentPrefix,
    /// `CREDIT_NOTE_PREFIX` (default `PCN`).
    pub credit_note_prefix: DocumentPrefix,
    pub shipping: ShippingConfig,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mongodb_uri: Secret<String>,
    pub mongodb_db: String,
    pub clerk: ClerkConfig,
    pub order_payment_timeout_minutes: i64,
    /// `ORDER_NUMBER_PREFIX` (default `PIT`): orders are `PIT-1001`, `PIT-1002`, …
    pub order_number_prefix: String,
    /// `TEST_FAULTS=1`: honour `x-test-fault` request headers that make checkout fail midway,
    /// so tests can prove it leaves nothing behind. Only tests set it; never deployed.
    pub test_faults: bool,
    /// Present when the function was started with `Needs::phonepe`.
    pub phonepe: Option<PhonePeConfig>,
    /// Present when the function was started with `Needs::mail`.
    pub mail: Option<MailConfig>,
    /// Present when the function was started with `Needs::seller`.
    pub seller: Option<SellerConfig>,
}

/// Which optional sections a function needs; a function that needs a section fails its cold
/// start when that section is incomplete, and one that does not is not bothered by it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub phonepe: bool,
    pub mail: bool,
    pub seller: bool,
}

impl Needs {
    pub const CORE: Needs = Needs {
        phonepe: false,
        mail: false,
        seller: false,
    };
    pub const ALL: Needs = Needs {
        phonepe: true,
        mail: true,
        seller: true,
    };
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&mut self, name: &str) -> String {
        self.get(name).unwrap_or_else(|| {
            self.problems.push(format!("{name} is required"));
            String::new()
        })
    }

    fn url(&mut self, name: &str, value: Option<String>) -> Option<String> {
        let value = value?;
        if value.starts_with("http://") || value.starts_with("https://") {
            Some(value.trim_end_matches('/').to_owned())
        } else {
            self.problems.push(format!("{name} must be an http(s) URL"));
            None
        }
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Config {
    pub fn from_env(needs: Needs) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars, needs)
    }

    pub fn from_vars(vars: &HashMap<String, String>, needs: Needs) -> Result<Self, ConfigError> {
        let mut r = Reader {
            vars,
            problems: Vec::new(),
        };

        let mongodb_uri = r.required("MONGODB_URI");
        if !(mongodb_uri.is_empty()
            || mongodb_uri.starts_with("mongodb://")
            || mongodb_uri.starts_with("mongodb+srv://"))
        {
            r.problems
                .push("MONGODB_URI must start with mongodb:// or mongodb+srv://".into());
        }
        let mongodb_db = r.get("MONGODB_DB").unwrap_or_else(|| "pitalya".into());
        if mongodb_db.contains(['/', '\\', '.', ' ', '"', '$']) {
            r.problems
                .push("MONGODB_DB contains a character MongoDB forbids".into());
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
                    r.problems
                        .push("CLERK_JWT_KEY is not an RSA public key in PEM form".into());
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

        let order_payment_timeout_minutes = match r.get("ORDER_PAYMENT_TIMEOUT_MINUTES") {
            None => 30,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=10_080).contains(&n) => n,
                _ => {
                    r.problems
                        .push("ORDER_PAYMENT_TIMEOUT_MINUTES must be 1..=10080".into());
                    30
                }
            },
        };

        let order_number_prefix = match r.get("ORDER_NUMBER_PREFIX") {
            None => "PIT".to_owned(),
            Some(p)
                if (1..=8).contains(&p.len())
                    && p.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                p
            }
            Some(_) => {
                r.problems
                    .push("ORDER_NUMBER_PREFIX must be 1–8 of A-Z and 0-9".into());
                String::new()
            }
        };

        let test_faults = matches!(r.get("TEST_FAULTS").as_deref(), Some("1" | "true"));

        let phonepe = needs.phonepe.then(|| Self::phonepe(&mut r));
        let mail = needs.mail.then(|| Self::mail(&mut r));
        let seller = if needs.seller {
            Self::read_seller(&mut r)
        } else {
            None
        };

        if r.problems.is_empty() {
            Ok(Config {
                mongodb_uri: Secret::new(mongodb_uri),
                mongodb_db,
                clerk,
                order_payment_timeout_minutes,
                order_number_prefix,
                test_faults,
                phonepe,
                mail,
                seller,
            })
        } else {
            Err(ConfigError {
                problems: r.problems,
            })
        }
    }

    fn phonepe(r: &mut Reader<'_>) -> PhonePeConfig {
        let env = match r.get("PHONEPE_ENV").as_deref() {
            None | Some("sandbox") => PhonePeEnv::Sandbox,
            Some("production") => PhonePeEnv::Production,
            Some(_) => {
                r.problems
                    .push("PHONEPE_ENV must be sandbox or production".into());
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
        let redirect = r.required("PHONEPE_REDIRECT_URL");
        let redirect_url = r.url(
            "PHONEPE_REDIRECT_URL",
            Some(redirect).filter(|s| !s.is_empty()),
        );
        PhonePeConfig {
            env,
            pg_url,
            oauth_url,
            client_id: r.required("PHONEPE_CLIENT_ID"),
            client_secret: Secret::new(r.required("PHONEPE_CLIENT_SECRET")),
            client_version: r
                .get("PHONEPE_CLIENT_VERSION")
                .unwrap_or_else(|| "1".into()),
            webhook_username: Secret::new(r.required("PHONEPE_WEBHOOK_USERNAME")),
            webhook_password: Secret::new(r.required("PHONEPE_WEBHOOK_PASSWORD")),
            redirect_url: redirect_url.unwrap_or_default(),
        }
    }

    /// The seller section; `None` only when a problem was recorded, which fails the start.
    fn read_seller(r: &mut Reader<'_>) -> Option<SellerConfig> {
        let name = r.required("SELLER_NAME");
        let address = r.required("SELLER_ADDRESS");
        if address.contains(['\n', '\r']) {
            r.problems
                .push("SELLER_ADDRESS must be one line (invoices print it as one)".into());
        }
        let gstin = match r.get("SELLER_GSTIN") {
            None => {
                r.problems.push("SELLER_GSTIN is required".into());
                None
            }
            Some(raw) => match Gstin::parse(&raw) {
                Ok(g) => Some(g),
                Err(e) => {
                    r.problems.push(format!("SELLER_GSTIN is invalid: {e}"));
                    None
                }
            },
        };
        let mut prefix = |name: &str, default: &str| {
            let raw = r.get(name).unwrap_or_else(|| default.into());
            DocumentPrefix::parse(&raw)
                .map_err(|e| r.problems.push(format!("{name} {e}")))
                .ok()
        };
        let invoice_prefix = prefix("INVOICE_PREFIX", "PIT");
        let credit_note_prefix = prefix("CREDIT_NOTE_PREFIX", "PCN");
        let mut paise = |name: &str| match r.get(name) {
            None => Some(Paise::ZERO),
            Some(v) => match v.parse::<i64>() {
                // A crore of paise (₹1,00,000) is far above any sane fee or threshold, and
                // keeps every sum with a cart far from overflow.
                Ok(n) if (0..=10_000_000).contains(&n) => Some(Paise(n)),
                _ => {
                    r.problems.push(format!(
                        "{name} must be a whole number of paise from 0 to 10000000"
                    ));
                    None
                }
            },
        };
        let fee = paise("SHIPPING_FEE");
        let free_min = paise("FREE_SHIPPING_MIN");
        Some(SellerConfig {
            name,
            gstin: gstin?,
            address,
            invoice_prefix: invoice_prefix?,
            credit_note_prefix: credit_note_prefix?,
            shipping: ShippingConfig {
                fee: fee?,
                free_min: free_min?,
            },
        })
    }

    /// The seller section of a function started with `Needs::seller`. A function that prices
    /// or taxes without it is a wiring bug, answered as a 500 rather than a wrong price.
    pub fn seller(&self) -> crate::Result<&SellerConfig> {
        self.seller.as_ref().ok_or_else(|| {
            crate::Error::Internal(anyhow::anyhow!(
                "the seller settings were not read: this function's NEEDS lacks `seller`"
            ))
        })
    }

    fn mail(r: &mut Reader<'_>) -> MailConfig {
        let from = r.required("SES_FROM");
        if !from.is_empty() && !from.contains('@') {
            r.problems.push("SES_FROM must be an email address".into());
        }
        let endpoint = r.get("AWS_ENDPOINT_URL_SES");
        MailConfig {
            from,
            reply_to: r.get("SES_REPLY_TO"),
            region: r.get("AWS_REGION").unwrap_or_else(|| "ap-south-1".into()),
            endpoint_url: r.url("AWS_ENDPOINT_URL_SES", endpoint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn missing_settings_are_all_reported_at_once() {
        let err = Config::from_vars(&vars(&[]), Needs::ALL).unwrap_err();
        let text = err.to_string();
        for name in [
            "MONGODB_URI",
            "CLERK_ISSUER",
            "PHONEPE_CLIENT_ID",
            "SES_FROM",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let cfg = Config::from_vars(
            &vars(&[
                ("MONGODB_URI", "mongodb://user:hunter2@localhost"),
                ("CLERK_ISSUER", "https://clerk.example.com"),
            ]),
            Needs::CORE,
        )
        .unwrap();
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(
            matches!(cfg.clerk.key, ClerkKey::Jwks(ref u) if u == "https://clerk.example.com/.well-known/jwks.json")
        );
    }

    #[test]
    fn sections_not_needed_are_not_required() {
        let cfg = Config::from_vars(
            &vars(&[
                ("MONGODB_URI", "mongodb://x"),
                ("CLERK_ISSUER", "https://c.example"),
            ]),
            Needs::CORE,
        )
        .unwrap();
        assert!(cfg.phonepe.is_none() && cfg.mail.is_none());
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_vars(
            &vars(&[
                ("MONGODB_URI", "postgres://x"),
                ("CLERK_ISSUER", "clerk"),
                ("CLERK_JWT_KEY", "not a key"),
                ("ORDER_PAYMENT_TIMEOUT_MINUTES", "-3"),
            ]),
            Needs::CORE,
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 4, "{:?}", err.problems);
    }

    fn seller_vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut v = vars(&[
            ("MONGODB_URI", "mongodb://x"),
            ("CLERK_ISSUER", "https://c.example"),
            ("SELLER_NAME", "Pitalya Handicrafts Private Limited"),
            ("SELLER_GSTIN", "33AABCP1234Q1ZE"),
            ("SELLER_ADDRESS", "14 Car Street, Chennai"),
        ]);
        v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
        v
    }

    const SELLER: Needs = Needs {
        phonepe: false,
        mail: false,
        seller: true,
    };

    #[test]
    fn the_seller_section_has_defaults_and_names_each_problem() {
        let cfg = Config::from_vars(&seller_vars(&[]), SELLER).unwrap();
        let s = cfg.seller().unwrap();
        assert_eq!(s.gstin.state_code().get(), 33);
        assert_eq!(
            (s.invoice_prefix.as_str(), s.credit_note_prefix.as_str()),
            ("PIT", "PCN")
        );
        assert_eq!(
            s.shipping,
            ShippingConfig {
                fee: Paise::ZERO,
                free_min: Paise::ZERO
            }
        );
        let cfg = Config::from_vars(
            &seller_vars(&[("SHIPPING_FEE", "4900"), ("FREE_SHIPPING_MIN", "99900")]),
            SELLER,
        )
        .unwrap();
        assert_eq!(cfg.seller().unwrap().shipping.fee, Paise(4_900));
        assert_eq!(cfg.seller().unwrap().shipping.free_min, Paise(99_900));

        let err = Config::from_vars(
            &seller_vars(&[
                ("SELLER_GSTIN", "33AABCP1234Q1ZF"),
                ("INVOICE_PREFIX", "PITAL"),
                ("CREDIT_NOTE_PREFIX", "p-n"),
                ("SHIPPING_FEE", "₹49"),
                ("FREE_SHIPPING_MIN", "-100"),
                ("SELLER_ADDRESS", "line one\nline two"),
            ]),
            SELLER,
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 6, "{:?}", err.problems);
        assert!(
            err.problems[0].contains("SELLER_ADDRESS"),
            "{:?}",
            err.problems
        );
        assert!(
            err.to_string().contains(
                "SELLER_GSTIN is invalid: the check character of this GSTIN should be 'E'"
            ),
            "{err}"
        );

        // Not needed, not read: neither a bad GSTIN nor its absence stops such a function.
        let cfg =
            Config::from_vars(&seller_vars(&[("SELLER_GSTIN", "nope")]), Needs::CORE).unwrap();
        assert!(cfg.seller.is_none());
        assert!(cfg.seller().is_err());
    }
}
