//! A coupon as stored.

use crate::vocabulary::money::Paise;
use crate::vocabulary::time::parse_time;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CouponType {
    Percent,
    Flat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ObjectId>,
    pub code: String,
    #[serde(rename = "type")]
    pub kind: CouponType,
    /// Percent (1–100) for `percent`, paise for `flat`.
    pub value: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_order_value: Option<Paise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_discount: Option<Paise>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_date"
    )]
    pub expires_at: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<i64>,
    /// How many of the uses one customer may make (`coupon_uses` counts them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer_limit: Option<i64>,
    #[serde(default)]
    pub used_count: i64,
    #[serde(default)]
    pub is_active: bool,
}

/// A date as `upsertCoupon` stores it (a BSON date), or as someone typed it into the database
/// by hand (an RFC 3339 string): a coupon edited in Compass must not turn checkout into a 500.
/// Anything else is still an error, which the caller reports.
fn lenient_date<'de, D>(d: D) -> std::result::Result<Option<DateTime>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    match Option::<mongodb::bson::Bson>::deserialize(d)? {
        None | Some(mongodb::bson::Bson::Null) => Ok(None),
        Some(mongodb::bson::Bson::DateTime(t)) => Ok(Some(t)),
        Some(mongodb::bson::Bson::String(s)) => parse_time("expiresAt", &s)
            .map(Some)
            .map_err(|e| D::Error::custom(format!("expiresAt {s:?} {}", e.message))),
        Some(other) => Err(D::Error::custom(format!(
            "expiresAt must be a date, not {:?}",
            other.element_type()
        ))),
    }
}

#[cfg(test)]
mod lenient_date_tests {
    use super::*;
    use mongodb::bson::{doc, from_document};

    fn coupon(expires: mongodb::bson::Bson) -> mongodb::bson::Document {
        doc! { "code": "FEST", "type": "percent", "value": 10_i64, "expiresAt": expires, "usedCount": 0_i64, "isActive": true }
    }

    #[test]
    fn coupon_expiry_reads_bson_dates_and_rfc3339_strings() {
        let t = DateTime::parse_rfc3339_str("2030-11-01T00:00:00Z").unwrap();
        let from_date: Coupon = from_document(coupon(t.into())).unwrap();
        let from_text: Coupon = from_document(coupon("2030-11-01T00:00:00Z".into())).unwrap();
        assert_eq!(from_date.expires_at, Some(t));
        assert_eq!(from_text.expires_at, Some(t));
        let absent: Coupon = from_document(coupon(mongodb::bson::Bson::Null)).unwrap();
        assert_eq!(absent.expires_at, None);
        assert!(from_document::<Coupon>(coupon("next diwali".into())).is_err());
        assert!(from_document::<Coupon>(coupon(5_i32.into())).is_err());
    }
}
