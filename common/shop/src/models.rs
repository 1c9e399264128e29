//! Documents as stored in MongoDB (field names per the contract) and their API views.

use crate::ids::{OrderId, ProductId, UserId};
use crate::money::Paise;
use crate::order_state::OrderStatus;
use crate::refunds::{Refund, RefundView};
use chrono::{DateTime as ChronoDateTime, SecondsFormat, Utc};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime};
use platform::email::Email;
use platform::error::FieldError;
use serde::{Deserialize, Serialize};

/// RFC 3339 UTC with milliseconds, the one timestamp format of the API.
pub fn rfc3339(t: DateTime) -> String {
    ChronoDateTime::<Utc>::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// India time as people write it (`2026-12-03 14:05:09`), for exports read by accountants.
pub fn india_time(t: DateTime) -> String {
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("IST is a valid offset");
    ChronoDateTime::<Utc>::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or_default()
        .with_timezone(&ist)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The first and last instants the API accepts (`EARLIEST`, `LATEST`). Every store and
/// reader of a time copes with them: BSON, chrono, JavaScript's `Date` in the console and
/// SecantusDB (Python's `datetime`, years 1–9999), and `rfc3339` writes them back in four-digit
/// years. A shop's orders and coupons are all after 2000, so an earlier date is a typo (`0202`
/// for `2020`) that would otherwise quietly mean "everything".
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";
pub const LATEST: &str = "9999-12-31T23:59:59.999Z";
const EARLIEST_MS: i64 = 946_684_800_000;
const LATEST_MS: i64 = 253_402_300_799_999;

/// The one parser of every time the API accepts (query parameters, body fields): RFC 3339
/// with any offset, between `EARLIEST` and `LATEST`. Anything else is a field error naming
/// `field`.
pub fn parse_time(field: &str, raw: &str) -> Result<DateTime, FieldError> {
    let parsed = ChronoDateTime::parse_from_rfc3339(raw.trim()).map_err(|_| {
        FieldError::new(
            field,
            "must be an RFC 3339 time such as 2026-11-01T00:00:00+05:30",
        )
    })?;
    let ms = parsed.timestamp_millis();
    if !(EARLIEST_MS..=LATEST_MS).contains(&ms) {
        return Err(FieldError::new(
            field,
            format!("must be between {EARLIEST} and {LATEST}"),
        ));
    }
    Ok(DateTime::from_millis(ms))
}

pub fn now() -> DateTime {
    DateTime::now()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    #[serde(rename = "_id")]
    pub id: ProductId,
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub description: String,
    pub price: Paise,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub stock: i64,
    #[serde(default)]
    pub is_active: bool,
    /// Optional only because products stored before GST was modelled lack it; every
    /// product created now has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsn: Option<crate::tax::Hsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gst_rate: Option<crate::tax::GstRate>,
    #[serde(default = "now")]
    pub created_at: DateTime,
    #[serde(default = "now")]
    pub updated_at: DateTime,
}

/// A product as the shop shows it, to shoppers and the owner alike: what it is, what it costs,
/// how many are left and how it is taxed (the contract's Product).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price: Paise,
    pub images: Vec<String>,
    pub stock: i64,
    pub is_active: bool,
    /// `null` only on products stored before GST was modelled, which checkout refuses.
    pub hsn: Option<String>,
    pub gst_rate: Option<crate::tax::GstRate>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        ProductView {
            id: p.id.to_hex(),
            name: p.name,
            slug: p.slug,
            description: p.description,
            price: p.price,
            images: p.images,
            stock: p.stock.max(0),
            is_active: p.is_active,
            hsn: p.hsn.map(|h| h.as_str().to_owned()),
            gst_rate: p.gst_rate,
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub phone: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub pincode: String,
    pub country: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: ProductId,
    pub name: String,
    pub price: Paise,
    #[serde(default)]
    pub image: Option<String>,
    pub quantity: i64,
    pub line_total: Paise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Failed,
    RefundPending,
    PartiallyRefunded,
    Refunded,
    /// A zero-total order: nothing to collect.
    NotRequired,
}

platform::stored_as_str!(PaymentStatus);

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Failed => "failed",
            PaymentStatus::RefundPending => "refund_pending",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::NotRequired => "not_required",
        }
    }
}

/// Why an order's payment waits for a person: what PhonePe said that we would not act on, or
/// money we must give back by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagReason {
    /// PhonePe said COMPLETED without a completed transaction: nothing proves the money.
    NoCompletedTransaction,
    /// PhonePe reported a completed payment of another amount than the order's total.
    AmountMismatch,
    /// The PhonePe transaction reported already paid another order.
    DuplicateTransaction,
    /// The money arrived after the order was cancelled: it is being refunded.
    PaidAfterCancel,
    /// PhonePe failed the order's refunds as often as they are retried.
    RefundFailed,
}

platform::stored_as_str!(FlagReason);

impl FlagReason {
    pub const ALL: [FlagReason; 5] = [
        FlagReason::NoCompletedTransaction,
        FlagReason::AmountMismatch,
        FlagReason::DuplicateTransaction,
        FlagReason::PaidAfterCancel,
        FlagReason::RefundFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagReason::NoCompletedTransaction => "no_completed_transaction",
            FlagReason::AmountMismatch => "amount_mismatch",
            FlagReason::DuplicateTransaction => "duplicate_transaction",
            FlagReason::PaidAfterCancel => "paid_after_cancel",
            FlagReason::RefundFailed => "refund_failed",
        }
    }
}

/// `payment.flag`: a reason and, for a person, what exactly was seen. Stored as one string,
/// `reason` or `reason: detail` (`amount_mismatch: PhonePe reported 100 paise for PIT-…`), as
/// flags were written when they were free text, so orders flagged then read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFlag {
    pub reason: FlagReason,
    pub detail: Option<String>,
}

impl PaymentFlag {
    pub fn new(reason: FlagReason, detail: impl Into<String>) -> PaymentFlag {
        PaymentFlag {
            reason,
            detail: Some(detail.into()),
        }
    }

    /// The flag as stored.
    pub fn stored(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.reason.as_str()),
            None => self.reason.as_str().to_owned(),
        }
    }

    /// A stored flag; `None` for a string no flag was ever written as.
    pub fn parse(stored: &str) -> Option<PaymentFlag> {
        let (reason, detail) = match stored.split_once(": ") {
            Some((reason, detail)) => (reason, Some(detail.to_owned())),
            None => (stored, None),
        };
        let reason = FlagReason::ALL.into_iter().find(|r| r.as_str() == reason)?;
        Some(PaymentFlag { reason, detail })
    }
}

impl From<FlagReason> for PaymentFlag {
    fn from(reason: FlagReason) -> PaymentFlag {
        PaymentFlag {
            reason,
            detail: None,
        }
    }
}

impl From<PaymentFlag> for Bson {
    fn from(flag: PaymentFlag) -> Bson {
        Bson::String(flag.stored())
    }
}

impl Serialize for PaymentFlag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.stored())
    }
}

impl<'de> Deserialize<'de> for PaymentFlag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let stored = String::deserialize(d)?;
        PaymentFlag::parse(&stored)
            .ok_or_else(|| serde::de::Error::custom(format!("not a payment flag: {stored:?}")))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub provider: String,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime>,
    /// Set when PhonePe reported something we refuse to act on (e.g. an amount mismatch),
    /// so the owner can look at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<PaymentFlag>,
    /// What completed refunds gave back of this payment (extra charges not included).
    #[serde(default)]
    pub refunded_amount: Paise,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<DateTime>,
}

impl Payment {
    /// A new order's payment: PhonePe, nothing paid yet.
    pub fn pending() -> Payment {
        Payment {
            provider: "phonepe".into(),
            status: PaymentStatus::Pending,
            merchant_order_id: None,
            transaction_id: None,
            paid_at: None,
            flag: None,
            refunded_amount: Paise::ZERO,
            refunded_at: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipping {
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[serde(rename = "_id")]
    pub id: OrderId,
    /// `PIT-1001`: what people read out on the phone. Absent only on orders placed before
    /// numbers existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub user_id: UserId,
    pub email: Email,
    pub items: Vec<OrderItem>,
    pub subtotal: Paise,
    pub discount: Paise,
    /// Zero on orders placed before shipping was charged.
    #[serde(default)]
    pub shipping_fee: Paise,
    /// `subtotal − discount + shippingFee`.
    pub total: Paise,
    /// Computed once, at checkout; absent only on orders placed before GST was modelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<crate::tax::OrderTax>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    pub currency: String,
    pub status: OrderStatus,
    pub status_history: Vec<StatusChange>,
    pub payment: Payment,
    pub shipping: Shipping,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Set in the transaction that issues the GST invoice (the move to `shipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceStamp>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

/// Which tax invoice an order has, and since when: the number the customer and the
/// accountant quote. The invoice itself is a document of its own (`invoices`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceStamp {
    pub number: String,
    pub issued_at: DateTime,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceStampView {
    pub number: String,
    pub issued_at: String,
}

impl Order {
    /// The order's number, or for an order placed before numbers existed its id.
    pub fn display_number(&self) -> String {
        self.number.clone().unwrap_or_else(|| self.id.to_hex())
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeView {
    pub status: OrderStatus,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub provider: String,
    pub status: PaymentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    pub refunded_amount: Paise,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: String,
    pub number: String,
    pub user_id: UserId,
    pub email: Email,
    pub items: Vec<OrderItem>,
    pub subtotal: Paise,
    pub discount: Paise,
    pub shipping_fee: Paise,
    pub total: Paise,
    /// `null` only on orders placed before GST was modelled.
    pub tax: Option<crate::tax::OrderTax>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    pub currency: String,
    pub status: OrderStatus,
    pub status_history: Vec<StatusChangeView>,
    pub payment: PaymentView,
    pub shipping: Shipping,
    pub refunds: Vec<RefundView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Absent until the order ships and its GST invoice is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceStampView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Order> for OrderView {
    fn from(o: Order) -> Self {
        OrderView {
            number: o.display_number(),
            id: o.id.to_hex(),
            user_id: o.user_id,
            email: o.email,
            items: o.items,
            subtotal: o.subtotal,
            discount: o.discount,
            shipping_fee: o.shipping_fee,
            total: o.total,
            tax: o.tax,
            coupon_code: o.coupon_code,
            currency: o.currency,
            status: o.status,
            status_history: o
                .status_history
                .into_iter()
                .map(|c| StatusChangeView {
                    status: c.status,
                    at: rfc3339(c.at),
                    note: c.note,
                    by: c.by,
                })
                .collect(),
            payment: PaymentView {
                provider: o.payment.provider,
                status: o.payment.status,
                merchant_order_id: o.payment.merchant_order_id,
                transaction_id: o.payment.transaction_id,
                paid_at: o.payment.paid_at.map(rfc3339),
                refunded_amount: o.payment.refunded_amount,
            },
            shipping: o.shipping,
            refunds: o.refunds.iter().map(RefundView::from).collect(),
            notes: o.notes,
            invoice: o.invoice.map(|i| InvoiceStampView {
                number: i.number,
                issued_at: rfc3339(i.issued_at),
            }),
            created_at: rfc3339(o.created_at),
            updated_at: rfc3339(o.updated_at),
        }
    }
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

#[cfg(test)]
mod parse_time_tests {
    use super::*;

    #[test]
    fn the_bounds_are_the_instants_their_names_say_and_are_accepted() {
        for (raw, ms) in [(EARLIEST, EARLIEST_MS), (LATEST, LATEST_MS)] {
            assert_eq!(parse_time("t", raw).unwrap().timestamp_millis(), ms);
            let written = rfc3339(DateTime::from_millis(ms));
            assert_eq!(parse_time("t", &written).unwrap().timestamp_millis(), ms);
        }
    }

    #[test]
    fn times_outside_the_bounds_or_not_rfc3339_name_the_field() {
        for raw in [
            "0000-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999Z",
            "2000-01-01T05:29:59+05:30",
            "9999-12-31T23:59:59-00:01",
            "10000-01-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "",
        ] {
            let e = parse_time("from", raw).unwrap_err();
            assert_eq!(e.field, "from", "{raw}");
        }
        assert_eq!(
            parse_time("to", " 2026-11-01T00:00:00+05:30 ")
                .unwrap()
                .timestamp_millis(),
            1_793_471_400_000
        );
    }
}

#[cfg(test)]
mod payment_flag_tests {
    use super::*;

    /// Flags as the code wrote them while they were free text.
    #[test]
    fn flags_stored_as_free_text_read_back_typed_and_unchanged() {
        for (stored, reason) in [
            (
                "no_completed_transaction: PhonePe said COMPLETED for PIT-1-2 without a completed transaction",
                FlagReason::NoCompletedTransaction,
            ),
            (
                "amount_mismatch: PhonePe reported 100 paise for PIT-1-2",
                FlagReason::AmountMismatch,
            ),
            (
                "duplicate_transaction: PhonePe transaction T1 already paid order 65a",
                FlagReason::DuplicateTransaction,
            ),
            ("paid_after_cancel", FlagReason::PaidAfterCancel),
            ("refund_failed: PITR-65a-1", FlagReason::RefundFailed),
        ] {
            let flag: PaymentFlag =
                mongodb::bson::from_bson(Bson::String(stored.into())).unwrap();
            assert_eq!(flag.reason, reason);
            assert_eq!(Bson::from(flag), Bson::String(stored.into()));
        }
        assert!(PaymentFlag::parse("looked at by Asha").is_none());
    }
}
