//! Coupons: the owner's coupons ([`owner`]), the rules that price a cart with one
//! ([`pricing`]), and their uses ([`uses`], the one writer of `usedCount` and of each
//! customer's count). Checkout claims a use through `uses`, a released order gives it back
//! through `uses`, and nothing else moves it.

mod owner;
pub mod pricing;
pub mod uses;

pub use owner::{
    create_coupon, normalize_coupon_code, patch_coupon, upsert_coupon, CouponInput, CouponPatch,
};

/// The coupons, one document per code.
pub const COLLECTION: &str = "coupons";
/// How often each customer has used each coupon: one document per (code, userId).
pub const USES_COLLECTION: &str = "coupon_uses";
