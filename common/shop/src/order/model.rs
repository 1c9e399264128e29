//! Orders as stored in MongoDB (field names per the contract) and their API views.

use super::status::OrderStatus;
use crate::catalog::{display_name, DEFAULT_VARIANT_TITLE};
use crate::vocabulary::address::Address;
use crate::vocabulary::ids::{OrderId, ProductId, UserId, VariantId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::rfc3339;
use mongodb::bson::{doc, Bson, DateTime};
use platform::db::IndexSpec;
use platform::email::Email;
use serde::{Deserialize, Serialize};

pub mod payment;
pub mod refund;

use refund::{Refund, RefundView};

/// The orders, one document per order.
pub const ORDERS: &str = "orders";

/// The orders' own indexes; payments and refunds declare those of their fields.
pub fn indexes() -> Vec<IndexSpec> {
    let mut specs = vec![
        IndexSpec::plain(ORDERS, doc! { "userId": 1, "_id": -1 }),
        IndexSpec::plain(ORDERS, doc! { "status": 1, "createdAt": 1 }),
        // Numbers are looked up by routes and search, and must never repeat.
        IndexSpec::unique_where(
            ORDERS,
            doc! { "number": 1 },
            doc! { "number": { "$type": "string" } },
        ),
    ];
    specs.extend(payment::indexes());
    specs
}

/// One line of an order: a variant, with its names snapshotted at checkout so every later
/// document (invoice, credit note, mail, export) reads them from here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "StoredOrderItem")]
pub struct OrderItem {
    pub product_id: ProductId,
    pub variant_id: VariantId,
    /// Absent on orders placed before variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// The product's name.
    pub name: String,
    pub variant_title: String,
    pub price: Paise,
    #[serde(default)]
    pub image: Option<String>,
    pub quantity: i64,
    pub line_total: Paise,
}

impl OrderItem {
    /// "Kuber Brass Urli — 8 in / Antique": how documents name the line.
    pub fn display_name(&self) -> String {
        display_name(&self.name, &self.variant_title)
    }
}

/// An order item as stored, before or after variants: an order placed before reads as the
/// product's single variant (id = the product's, title "Default"), exactly as it did.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredOrderItem {
    product_id: ProductId,
    #[serde(default)]
    variant_id: Option<VariantId>,
    #[serde(default)]
    sku: Option<String>,
    name: String,
    #[serde(default)]
    variant_title: Option<String>,
    price: Paise,
    #[serde(default)]
    image: Option<String>,
    quantity: i64,
    line_total: Paise,
}

impl From<StoredOrderItem> for OrderItem {
    fn from(s: StoredOrderItem) -> Self {
        OrderItem {
            variant_id: s.variant_id.unwrap_or(VariantId::from(s.product_id)),
            product_id: s.product_id,
            sku: s.sku,
            name: s.name,
            variant_title: s
                .variant_title
                .unwrap_or_else(|| DEFAULT_VARIANT_TITLE.to_owned()),
            price: s.price,
            image: s.image,
            quantity: s.quantity,
            line_total: s.line_total,
        }
    }
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

pub fn order_not_found() -> platform::error::Error {
    platform::error::Error::new(
        platform::problem_codes::ProblemCode::OrderNotFound,
        "No such order",
    )
}

/// A realistic order for previews and tests: every field filled, with the awkward inputs a
/// mail must survive (markup, emoji, a very long unbroken line).
pub fn sample_order() -> Order {
    use mongodb::bson::oid::ObjectId;

    let placed = DateTime::from_millis(1_741_750_200_000); // 12 March 2025, 09:00 IST
    let later = |days: i64| DateTime::from_millis(placed.timestamp_millis() + days * 86_400_000);
    let item = |name: &str, price: i64, quantity: i64| {
        let product_id = ProductId::new();
        OrderItem {
            product_id,
            variant_id: VariantId::from(product_id),
            sku: Some("PIT-URLI-8-ANT".to_owned()),
            name: name.to_owned(),
            variant_title: DEFAULT_VARIANT_TITLE.to_owned(),
            price: Paise(price),
            image: None,
            quantity,
            line_total: Paise(price * quantity),
        }
    };
    let change = |status, days, note: Option<&str>| StatusChange {
        status,
        at: later(days),
        note: note.map(str::to_owned),
        by: None,
    };
    Order {
        number: Some("PIT-1042".into()),
        id: OrderId(ObjectId::parse_str("65f0a1b2c3d4e5f601234567").expect("hex id")),
        user_id: "user_preview".into(),
        email: platform::email::Email::parse("asha@example.com").unwrap(),
        items: vec![
            item("Kuber Brass Urli 🪔", 12_990_000, 1),
            item("Brass Diya <Set of 2> & \"Wick\" Pack", 129_900, 3),
        ],
        subtotal: Paise(12_990_000 + 3 * 129_900),
        discount: Paise(1_338_970),
        shipping_fee: Paise::ZERO,
        total: Paise(12_990_000 + 3 * 129_900 - 1_338_970),
        tax: None,
        coupon_code: Some("WELCOME10".into()),
        currency: "INR".into(),
        status: OrderStatus::Shipped,
        status_history: vec![
            change(OrderStatus::Created, 0, None),
            change(OrderStatus::Paid, 0, None),
            change(OrderStatus::Shipped, 2, None),
            change(OrderStatus::Delivered, 5, None),
            change(
                OrderStatus::Cancelled,
                1,
                Some("Customer asked: <b>wrong size</b> 🙏"),
            ),
        ],
        payment: Payment {
            provider: "phonepe".into(),
            status: PaymentStatus::Paid,
            merchant_order_id: Some("PTY-65f0a1b2-1".into()),
            transaction_id: Some("OM2503120900001234".into()),
            paid_at: Some(placed),
            flag: None,
            refunded_amount: Paise::ZERO,
            refunded_at: None,
        },
        shipping: Shipping {
            address: Address {
                name: "Asha <script>alert('x')</script> Iyer 🌸".into(),
                phone: "+919876543210".into(),
                line1: "12 Temple Street, Near the Kapaleeshwarar Tank, Opposite the Old \
                        Flower Market, Behind the Brass Lamp Shop With the Blue Door, \
                        Mylapore-Chennai-Tamil-Nadu-India-Very-Long-Unbroken-Line-For-Testing-\
                        Wrapping-Behaviour-In-Narrow-Mail-Clients"
                    .into(),
                line2: Some("Flat 3B, \"Lakshmi\" Apartments & Annexe".into()),
                city: "Chennai".into(),
                state: "Tamil Nadu".into(),
                pincode: "600004".into(),
                country: "IN".into(),
            },
            carrier: Some("Delhivery".into()),
            tracking_number: Some("DLV1234567890".into()),
            tracking_url: Some("https://www.delhivery.com/track/package/DLV1234567890".into()),
            description: None,
        },
        refunds: Vec::new(),
        notes: None,
        invoice: None,
        created_at: placed,
        updated_at: later(5),
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
