//! Coupon rules as pure functions over integer paise, shared by `apply-coupon` (which only
//! quotes) and `orders/create` (which locks the discount in).

use crate::error::{Error, Result};
use crate::models::{Coupon, CouponType};
use crate::money::Paise;
use mongodb::bson::DateTime;

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
/// success, the discount. `subtotal == 0` is an empty cart.
pub fn evaluate(coupon: &Coupon, subtotal: Paise, now: DateTime) -> Result<Paise> {
    if subtotal.get() <= 0 {
        return Err(Error::unprocessable("CART_EMPTY", "The cart is empty"));
    }
    if !coupon.is_active {
        return Err(coupon_not_found(&coupon.code));
    }
    if coupon.expires_at.is_some_and(|t| t <= now) {
        return Err(Error::unprocessable(
            "COUPON_EXPIRED",
            format!("Coupon {} has expired", coupon.code),
        ));
    }
    if let Some(min) = coupon.min_order_value {
        if subtotal < min {
            return Err(Error::unprocessable(
                "MIN_ORDER_NOT_MET",
                format!(
                    "Coupon {} needs an order of at least {}",
                    coupon.code,
                    min.format_inr()
                ),
            )
            .with("minOrderValue", min));
        }
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
    Error::not_found("COUPON_NOT_FOUND", format!("No active coupon {code}"))
}

pub fn exhausted(code: &str) -> Error {
    Error::conflict(
        "COUPON_EXHAUSTED",
        format!("Coupon {code} has been used up"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
            evaluate(&c, Paise(0), now).unwrap_err().code(),
            "CART_EMPTY"
        );
        c.is_active = false;
        assert_eq!(
            evaluate(&c, Paise(100), now).unwrap_err().code(),
            "COUPON_NOT_FOUND"
        );
        c.is_active = true;
        c.expires_at = Some(DateTime::from_millis(now.timestamp_millis() - 1));
        assert_eq!(
            evaluate(&c, Paise(100), now).unwrap_err().code(),
            "COUPON_EXPIRED"
        );
        c.expires_at = None;
        c.min_order_value = Some(Paise(1000));
        assert_eq!(
            evaluate(&c, Paise(999), now).unwrap_err().code(),
            "MIN_ORDER_NOT_MET"
        );
        assert!(evaluate(&c, Paise(1000), now).is_ok());
        c.usage_limit = Some(5);
        c.used_count = 5;
        assert_eq!(
            evaluate(&c, Paise(1000), now).unwrap_err().code(),
            "COUPON_EXHAUSTED"
        );
    }

    #[test]
    fn eligibility_boundaries() {
        let now = DateTime::now();
        let at = |delta_ms: i64| Some(DateTime::from_millis(now.timestamp_millis() + delta_ms));
        let mut c = coupon(CouponType::Percent, 10, Some(20_000));
        c.expires_at = at(0);
        assert_eq!(
            evaluate(&c, Paise(1000), now).unwrap_err().code(),
            "COUPON_EXPIRED",
            "a coupon is expired from its expiry instant on"
        );
        c.expires_at = at(1);
        assert_eq!(evaluate(&c, Paise(500_000), now).unwrap(), Paise(20_000));
        c.usage_limit = Some(0);
        assert_eq!(
            evaluate(&c, Paise(1000), now).unwrap_err().code(),
            "COUPON_EXHAUSTED",
            "a limit of zero allows no use"
        );
        c.usage_limit = Some(5);
        c.used_count = 4;
        assert_eq!(evaluate(&c, Paise(1000), now).unwrap(), Paise(100));
        // An empty cart is the answer before anything about the coupon.
        c.expires_at = at(-1);
        c.used_count = 5;
        assert_eq!(
            evaluate(&c, Paise(0), now).unwrap_err().code(),
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
            let quoted = evaluate(&c, Paise(subtotal), DateTime::now()).unwrap();
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
    }
}
