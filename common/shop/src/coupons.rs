//! Coupons: the coupon as stored (`model`), the owner's coupons (`owner`, re-exported here), the rules that price a cart
//! with one ([`pricing`]), and their uses ([`uses`], the one writer of `usedCount` and of
//! each customer's count). Checkout claims a use through `uses`, a released order gives it back
//! through `uses`, and nothing else moves it.

mod model;
mod owner;
pub mod pricing;
pub mod uses;

pub use model::{Coupon, CouponType};
pub use owner::{
    create_coupon, normalize_coupon_code, patch_coupon, upsert_coupon, CouponInput, CouponPatch,
};

use mongodb::bson::doc;
use platform::db::IndexSpec;

/// The coupons, one document per code.
pub const COUPONS: &str = "coupons";
/// How often each customer has used each coupon: one document per (code, userId).
pub const COUPON_USES: &str = "coupon_uses";

pub fn indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::unique(COUPONS, doc! { "code": 1 }),
        // One counter per customer and coupon, so concurrent checkouts write the same one.
        IndexSpec::unique(COUPON_USES, doc! { "code": 1, "userId": 1 }),
    ]
}
