//! The seller: who sells, for GST, and what delivery costs. A section of the settings read
//! through the platform's `config::Reader`, here beside the domain types it is made of, so a
//! bad GSTIN still fails the cold start with every other problem.

use crate::tax::{DocumentPrefix, Gstin};
use crate::vocabulary::money::Paise;
use platform::config::{Reader, Section};

/// What the shop charges for delivery. Plain paise here; the rule that applies them lives in
/// `coupons::pricing::quote`, so the cart, the coupon quote and checkout cannot disagree.
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

impl Section for SellerConfig {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let name = r.required("SELLER_NAME");
        let address = r.required("SELLER_ADDRESS");
        if address.contains(['\n', '\r']) {
            r.problem("SELLER_ADDRESS must be one line (invoices print it as one)");
        }
        let gstin = match r.get("SELLER_GSTIN") {
            None => {
                r.problem("SELLER_GSTIN is required");
                None
            }
            Some(raw) => match Gstin::parse(&raw) {
                Ok(g) => Some(g),
                Err(e) => {
                    r.problem(format!("SELLER_GSTIN is invalid: {e}"));
                    None
                }
            },
        };
        let mut prefix = |name: &str, default: &str| {
            let raw = r.get(name).unwrap_or_else(|| default.into());
            DocumentPrefix::parse(&raw)
                .map_err(|e| r.problem(format!("{name} {e}")))
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
                    r.problem(format!(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::config::environment_of as vars;
    use platform::config::{from_vars, Config};
    use std::collections::HashMap;

    #[test]
    fn its_problems_are_listed_with_the_other_sections() {
        let err = from_vars::<(Config, SellerConfig)>(&vars(&[])).unwrap_err();
        let text = err.to_string();
        for name in ["MONGODB_URI", "CLERK_ISSUER", "SELLER_NAME", "SELLER_GSTIN"] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
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

    type Seller = (Config, SellerConfig);

    #[test]
    fn the_seller_section_has_defaults_and_names_each_problem() {
        let (_, s) = from_vars::<Seller>(&seller_vars(&[])).unwrap();
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
        let (_, s) = from_vars::<Seller>(&seller_vars(&[
            ("SHIPPING_FEE", "4900"),
            ("FREE_SHIPPING_MIN", "99900"),
        ]))
        .unwrap();
        assert_eq!(s.shipping.fee, Paise(4_900));
        assert_eq!(s.shipping.free_min, Paise(99_900));

        let err = from_vars::<Seller>(&seller_vars(&[
            ("SELLER_GSTIN", "33AABCP1234Q1ZF"),
            ("INVOICE_PREFIX", "PITAL"),
            ("CREDIT_NOTE_PREFIX", "p-n"),
            ("SHIPPING_FEE", "₹49"),
            ("FREE_SHIPPING_MIN", "-100"),
            ("SELLER_ADDRESS", "line one\nline two"),
        ]))
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
        assert!(from_vars::<Config>(&seller_vars(&[("SELLER_GSTIN", "nope")])).is_ok());
        let mut without = seller_vars(&[]);
        without.remove("SELLER_GSTIN");
        assert!(from_vars::<Config>(&without).is_ok());
    }
}
