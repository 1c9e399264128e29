//! Coupon rules and the price of a cart as pure functions over integer paise, shared by the
//! cart (no coupon), `apply-coupon` (which only quotes) and `orders/create` (which locks the
//! discount in), so the three can never show different totals for the same cart.

use super::{Coupon, CouponType};
use crate::tax;
use crate::tax::seller::ShippingConfig;
use crate::vocabulary::money::Paise;
use mongodb::bson::DateTime;
use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;
use serde::Serialize;

/// PhonePe collects nothing below ₹1.00.
pub const MIN_COLLECTABLE: Paise = Paise(100);

/// What a cart costs: `total = subtotal − discount + shipping_fee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub subtotal: Paise,
    /// After the ₹1.00 floor: possibly less than the coupon's own discount.
    pub discount: Paise,
    pub shipping_fee: Paise,
    pub total: Paise,
}

/// The one price of a cart, for the cart view, the coupon quote and checkout alike.
/// `discount` is the coupon's (from [`evaluate`], or zero), `subtotal` at least zero.
///
/// The free-shipping threshold is judged after the discount. A total PhonePe cannot collect
/// (₹0.01–₹0.99) has its discount reduced to leave exactly ₹1.00; a total of zero stays
/// zero, since such an order needs no payment at all. An empty cart ships nothing, so it
/// has no fee.
pub fn quote(subtotal: Paise, discount: Paise, shipping: ShippingConfig) -> Quote {
    let subtotal = subtotal.max(Paise::ZERO);
    let fee = |discount: Paise| {
        if subtotal == Paise::ZERO {
            Paise::ZERO
        } else {
            tax::shipping_fee(subtotal, discount, shipping.fee, shipping.free_min)
        }
    };
    let at = |discount: Paise| {
        let shipping_fee = fee(discount);
        Quote {
            subtotal,
            discount,
            shipping_fee,
            total: subtotal - discount + shipping_fee,
        }
    };
    let first = at(discount.clamp(Paise::ZERO, subtotal));
    if first.total <= Paise::ZERO || first.total >= MIN_COLLECTABLE {
        return first;
    }
    // Giving back discount only raises `subtotal − discount`, so shipping can only become
    // free, never start costing; if it does become free, the goods alone must make ₹1.00.
    let second = at((subtotal + first.shipping_fee - MIN_COLLECTABLE).max(Paise::ZERO));
    if second.total >= MIN_COLLECTABLE || second.discount == Paise::ZERO {
        return second;
    }
    at((subtotal - MIN_COLLECTABLE).max(Paise::ZERO))
}

/// The discount a coupon gives on `subtotal`, ignoring eligibility: percent is
/// `floor(subtotal * value / 100)` capped by `maxDiscount`; flat is `min(value, subtotal)`.
/// Never negative and never more than the subtotal.
pub fn discount(coupon: &Coupon, subtotal: Paise) -> Paise {
    let subtotal = subtotal.get().max(0);
    let raw = match coupon.kind {
        // i128 so a huge subtotal times 100 cannot overflow.
        CouponType::Percent => {
            ((subtotal as i128 * coupon.value.clamp(0, 100) as i128) / 100) as i64
        }
        CouponType::Flat => coupon.value.max(0),
    };
    let capped = match coupon.max_discount {
        Some(cap) => raw.min(cap.get().max(0)),
        None => raw,
    };
    Paise(capped.min(subtotal).max(0))
}

/// Why a coupon cannot be used on this cart right now, as the contract's typed errors; on
/// success, the discount. `subtotal == 0` is an empty cart; `customer_uses` is how often the
/// shopper has used the coupon already (orders not cancelled).
pub fn evaluate(
    coupon: &Coupon,
    subtotal: Paise,
    now: DateTime,
    customer_uses: i64,
) -> Result<Paise> {
    if subtotal.get() <= 0 {
        return Err(Error::new(ProblemCode::CartEmpty, "The cart is empty"));
    }
    if !coupon.is_active {
        return Err(coupon_not_found(&coupon.code));
    }
    if coupon.expires_at.is_some_and(|t| t <= now) {
        return Err(Error::new(
            ProblemCode::CouponExpired,
            format!("Coupon {} has expired", coupon.code),
        ));
    }
    if let Some(min) = coupon.min_order_value {
        if subtotal < min {
            return Err(Error::new(
                ProblemCode::MinOrderNotMet,
                format!(
                    "Coupon {} needs an order of at least {}",
                    coupon.code,
                    min.format_inr()
                ),
            )
            .with("minOrderValue", min));
        }
    }
    // Before the shop-wide limit: "you have used it" is the answer that is true for ever.
    if coupon
        .per_customer_limit
        .is_some_and(|limit| customer_uses >= limit)
    {
        return Err(already_used(&coupon.code));
    }
    if coupon
        .usage_limit
        .is_some_and(|limit| coupon.used_count >= limit)
    {
        return Err(exhausted(&coupon.code));
    }
    Ok(discount(coupon, subtotal))
}

pub fn coupon_not_found(code: &str) -> Error {
    Error::new(
        ProblemCode::CouponNotFound,
        format!("No active coupon {code}"),
    )
}

pub fn already_used(code: &str) -> Error {
    Error::new(
        ProblemCode::CouponAlreadyUsed,
        format!("You have already used coupon {code} as often as it allows"),
    )
}

pub fn exhausted(code: &str) -> Error {
    Error::new(
        ProblemCode::CouponExhausted,
        format!("Coupon {code} has been used up"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ship(fee: i64, free_min: i64) -> ShippingConfig {
        ShippingConfig {
            fee: Paise(fee),
            free_min: Paise(free_min),
        }
    }

    #[test]
    fn quotes() {
        // subtotal, coupon discount, fee, free_min → discount, shipping, total
        let cases = [
            ((249_900, 20_000, 0, 0), (20_000, 0, 229_900)),
            ((100_000, 0, 9_900, 0), (0, 9_900, 109_900)),
            ((100_000, 0, 9_900, 100_000), (0, 0, 100_000)),
            // The threshold is judged after the discount.
            ((110_000, 20_000, 9_900, 100_000), (20_000, 9_900, 99_900)),
            ((150_000, 50_000, 9_900, 100_000), (50_000, 0, 100_000)),
            // The ₹1 floor: ₹0.50 left becomes ₹1.00; nothing left stays nothing.
            ((50_000, 49_950, 0, 0), (49_900, 0, 100)),
            ((50_000, 49_999, 0, 0), (49_900, 0, 100)),
            ((50_000, 50_000, 0, 0), (50_000, 0, 0)),
            ((50_000, 49_900, 0, 0), (49_900, 0, 100)),
            // A fee of ₹1 or more always leaves something PhonePe can collect.
            ((50_000, 50_000, 4_900, 0), (50_000, 4_900, 4_900)),
            // A sub-rupee fee with the goods free is floored too.
            ((50_000, 50_000, 40, 0), (49_940, 40, 100)),
            // ... and when giving back discount makes shipping free, the goods make ₹1.00.
            ((50_000, 49_990, 40, 30), (49_900, 0, 100)),
            // An empty cart ships nothing.
            ((0, 0, 9_900, 0), (0, 0, 0)),
            // A subtotal below ₹1 with no coupon is not the discount's to fix.
            ((50, 0, 0, 0), (0, 0, 50)),
        ];
        for ((subtotal, d, fee, min), (want_d, want_ship, want_total)) in cases {
            let q = quote(Paise(subtotal), Paise(d), ship(fee, min));
            assert_eq!(
                (q.discount.0, q.shipping_fee.0, q.total.0),
                (want_d, want_ship, want_total),
                "{subtotal} - {d}, fee {fee} over {min}"
            );
            assert_eq!(q.subtotal, Paise(subtotal));
        }
    }

    fn coupon(kind: CouponType, value: i64, max: Option<i64>) -> Coupon {
        Coupon {
            id: None,
            code: "T".into(),
            kind,
            value,
            min_order_value: None,
            max_discount: max.map(Paise),
            expires_at: None,
            usage_limit: None,
            per_customer_limit: None,
            used_count: 0,
            is_active: true,
        }
    }

    #[test]
    fn table() {
        use CouponType::*;
        let cases = [
            // kind, value, cap, subtotal, expected
            (Percent, 10, None, 129_900, 12_990),
            (Percent, 10, Some(20_000), 500_000, 20_000), // "10% off up to ₹200"
            (Percent, 10, Some(20_000), 150_000, 15_000),
            (Percent, 15, None, 99_999, 14_999), // floors, never rounds up
            (Percent, 100, None, 12_345, 12_345),
            (Flat, 25_000, None, 150_000, 25_000),
            (Flat, 25_000, None, 10_000, 10_000), // never above the subtotal
            (Flat, 25_000, Some(5_000), 150_000, 5_000),
        ];
        for (kind, value, cap, subtotal, expected) in cases {
            assert_eq!(
                discount(&coupon(kind, value, cap), Paise(subtotal)),
                Paise(expected),
                "{kind:?} {value} {cap:?} {subtotal}"
            );
        }
    }

    #[test]
    fn eligibility_errors_are_typed() {
        let now = DateTime::now();
        let mut c = coupon(CouponType::Percent, 10, None);
        assert_eq!(
            evaluate(&c, Paise(0), now, 0).unwrap_err().code(),
            "CART_EMPTY"
        );
        c.is_active = false;
        assert_eq!(
            evaluate(&c, Paise(100), now, 0).unwrap_err().code(),
            "COUPON_NOT_FOUND"
        );
        c.is_active = true;
        c.expires_at = Some(DateTime::from_millis(now.timestamp_millis() - 1));
        assert_eq!(
            evaluate(&c, Paise(100), now, 0).unwrap_err().code(),
            "COUPON_EXPIRED"
        );
        c.expires_at = None;
        c.min_order_value = Some(Paise(1000));
        assert_eq!(
            evaluate(&c, Paise(999), now, 0).unwrap_err().code(),
            "MIN_ORDER_NOT_MET"
        );
        assert!(evaluate(&c, Paise(1000), now, 0).is_ok());
        c.usage_limit = Some(5);
        c.used_count = 5;
        assert_eq!(
            evaluate(&c, Paise(1000), now, 0).unwrap_err().code(),
            "COUPON_EXHAUSTED"
        );
        c.per_customer_limit = Some(1);
        assert_eq!(
            evaluate(&c, Paise(1000), now, 1).unwrap_err().code(),
            "COUPON_ALREADY_USED",
            "the customer's own limit is named before the shop-wide one"
        );
        c.used_count = 0;
        assert!(evaluate(&c, Paise(1000), now, 0).is_ok());
    }

    #[test]
    fn eligibility_boundaries() {
        let now = DateTime::now();
        let at = |delta_ms: i64| Some(DateTime::from_millis(now.timestamp_millis() + delta_ms));
        let mut c = coupon(CouponType::Percent, 10, Some(20_000));
        c.expires_at = at(0);
        assert_eq!(
            evaluate(&c, Paise(1000), now, 0).unwrap_err().code(),
            "COUPON_EXPIRED",
            "a coupon is expired from its expiry instant on"
        );
        c.expires_at = at(1);
        assert_eq!(evaluate(&c, Paise(500_000), now, 0).unwrap(), Paise(20_000));
        c.usage_limit = Some(0);
        assert_eq!(
            evaluate(&c, Paise(1000), now, 0).unwrap_err().code(),
            "COUPON_EXHAUSTED",
            "a limit of zero allows no use"
        );
        c.usage_limit = Some(5);
        c.used_count = 4;
        assert_eq!(evaluate(&c, Paise(1000), now, 0).unwrap(), Paise(100));
        // An empty cart is the answer before anything about the coupon.
        c.expires_at = at(-1);
        c.used_count = 5;
        assert_eq!(
            evaluate(&c, Paise(0), now, 0).unwrap_err().code(),
            "CART_EMPTY"
        );
    }

    proptest! {
        #[test]
        fn a_bigger_cart_never_gets_a_smaller_discount(
            percent in any::<bool>(),
            value in 1i64..=100_000,
            cap in proptest::option::of(1i64..=1_000_000),
            a in 0i64..=100_000_000,
            b in 0i64..=100_000_000,
        ) {
            let kind = if percent { CouponType::Percent } else { CouponType::Flat };
            let value = if percent { value % 100 + 1 } else { value };
            let c = coupon(kind, value, cap);
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(discount(&c, Paise(lo)) <= discount(&c, Paise(hi)));
        }

        #[test]
        fn an_eligible_coupon_quotes_exactly_its_discount(
            percent in any::<bool>(),
            value in 1i64..=100,
            subtotal in 1i64..=100_000_000,
        ) {
            let kind = if percent { CouponType::Percent } else { CouponType::Flat };
            let c = coupon(kind, value, Some(20_000));
            let quoted = evaluate(&c, Paise(subtotal), DateTime::now(), 0).unwrap();
            prop_assert_eq!(quoted, discount(&c, Paise(subtotal)));
            prop_assert!(Paise(subtotal) - quoted >= Paise::ZERO);
        }

        #[test]
        fn discount_is_within_bounds(
            percent in any::<bool>(),
            value in -10i64..=1_000_000_000,
            cap in proptest::option::of(-10i64..=1_000_000_000),
            subtotal in -10i64..=i64::MAX / 2,
        ) {
            let kind = if percent { CouponType::Percent } else { CouponType::Flat };
            let c = coupon(kind, value, cap);
            let d = discount(&c, Paise(subtotal)).get();
            prop_assert!(d >= 0);
            prop_assert!(d <= subtotal.max(0));
            if let Some(cap) = cap { prop_assert!(d <= cap.max(0)); }
        }

        #[test]
        fn a_quote_adds_up_and_is_collectable_or_free(
            subtotal in 0i64..=10_000_000,
            d in 0i64..=10_000_000,
            fee in 0i64..=20_000,
            min in 0i64..=10_000_000,
        ) {
            let coupon = Paise(d.min(subtotal));
            let q = quote(Paise(subtotal), coupon, ship(fee, min));
            prop_assert_eq!(q.total, q.subtotal - q.discount + q.shipping_fee);
            prop_assert!(q.discount >= Paise::ZERO && q.discount <= coupon);
            prop_assert!(q.total == Paise::ZERO || q.total >= MIN_COLLECTABLE || q.discount == Paise::ZERO);
            if subtotal > 0 {
                prop_assert_eq!(
                    q.shipping_fee,
                    tax::shipping_fee(q.subtotal, q.discount, Paise(fee), Paise(min))
                );
            }
        }
    }
}
