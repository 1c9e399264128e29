//! The order rules a shop sets: how long an order waits for its payment, and how its orders
//! are numbered. Sections of the settings read through the platform's `config::Reader`, each
//! given only to the functions that apply it.

use platform::config::{Reader, Section};

/// `ORDER_PAYMENT_TIMEOUT_MINUTES` (default 30, 1..=10080): how long an order waits for its
/// payment. `jobs` cancels an unpaid order older than this; `payments-initiate` makes
/// PhonePe's page expire with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentWindow {
    pub minutes: i64,
}

impl PaymentWindow {
    pub fn millis(self) -> i64 {
        self.minutes * 60_000
    }

    /// How long PhonePe's payment page stays open: PhonePe accepts 300–3600 s, and the page
    /// should not outlive our own payment window.
    pub fn page_expiry_secs(self) -> i64 {
        (self.minutes * 60).clamp(300, 3600)
    }
}

impl Section for PaymentWindow {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let minutes = match r.get("ORDER_PAYMENT_TIMEOUT_MINUTES") {
            None => 30,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=10_080).contains(&n) => n,
                _ => {
                    r.problem("ORDER_PAYMENT_TIMEOUT_MINUTES must be 1..=10080");
                    30
                }
            },
        };
        Some(PaymentWindow { minutes })
    }
}

/// `ORDER_NUMBER_PREFIX` (default `PIT`): orders are `PIT-1001`, `PIT-1002`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumbering {
    pub prefix: String,
}

impl Section for OrderNumbering {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let prefix = match r.get("ORDER_NUMBER_PREFIX") {
            None => "PIT".to_owned(),
            Some(p)
                if (1..=8).contains(&p.len())
                    && p.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                p
            }
            Some(_) => {
                r.problem("ORDER_NUMBER_PREFIX must be 1–8 of A-Z and 0-9");
                String::new()
            }
        };
        Some(OrderNumbering { prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::config::{environment_of as vars, from_vars, Config};

    #[test]
    fn bad_values_are_named() {
        let err = from_vars::<(Config, PaymentWindow)>(&vars(&[
            ("MONGODB_URI", "postgres://x"),
            ("CLERK_ISSUER", "clerk"),
            ("CLERK_JWT_KEY", "not a key"),
            ("ORDER_PAYMENT_TIMEOUT_MINUTES", "-3"),
        ]))
        .unwrap_err();
        assert_eq!(err.problems.len(), 4, "{:?}", err.problems);
    }
}
