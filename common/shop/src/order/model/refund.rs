//! A refund as its order carries it (`orders.refunds[]`), and what the order's payment has
//! collected and may still give back. Deciding and settling refunds is `crate::refunds`.

use super::Order;
use crate::vocabulary::ids::{ProductId, VariantId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::rfc3339;
use mongodb::bson::{oid::ObjectId, DateTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// A paid order was cancelled (by the owner, or paid after it had expired).
    Cancellation,
    /// The owner refunded part or all of a paid order.
    Owner,
    /// A second attempt paid an order another attempt had already paid.
    ExtraCharge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Pending,
    Completed,
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Completed => "completed",
            RefundState::Failed => "failed",
        }
    }
}

platform::stored_as_str!(RefundState);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundLine {
    pub product_id: ProductId,
    /// Which of the product's variants; absent on refunds recorded before variants, whose
    /// orders had one line per product (its variant's id being the product's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<VariantId>,
    pub quantity: i64,
}

impl RefundLine {
    /// The variant refunded; see `variant_id`.
    pub fn variant(&self) -> VariantId {
        self.variant_id
            .unwrap_or_else(|| VariantId::from(self.product_id))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub id: ObjectId,
    pub merchant_refund_id: String,
    /// The PhonePe order (payment attempt) whose money goes back.
    pub original_merchant_order_id: String,
    pub amount: Paise,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<RefundLine>>,
    #[serde(default)]
    pub restock: bool,
    pub reason: String,
    pub kind: RefundKind,
    pub state: RefundState,
    /// Who decided it: an admin's user id, `customer`, `phonepe` or `jobs`.
    pub by: String,
    pub at: DateTime,
    /// When the refund was last sent to PhonePe (the start of its request deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime>,
    pub next_check_at: DateTime,
    #[serde(default)]
    pub checks: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<DateTime>,
    /// The failed refund this one retries, under a new id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// The owner's `Idempotency-Key` and a hash of the request it came with: repeating the
    /// request finds its refund here, on the order, in the same transaction that decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
}

impl Refund {
    /// Whether this refund gives back the order's own payment (extra charges do not count
    /// against what the order collected).
    pub fn counts_against_order(&self) -> bool {
        self.kind != RefundKind::ExtraCharge
    }
}

/// A refund as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub id: String,
    pub merchant_refund_id: String,
    pub amount: Paise,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<RefundLineView>>,
    pub restock: bool,
    pub reason: String,
    pub kind: RefundKind,
    pub state: RefundState,
    pub by: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundLineView {
    pub product_id: String,
    pub variant_id: String,
    pub quantity: i64,
}

impl From<&Refund> for RefundView {
    fn from(r: &Refund) -> Self {
        RefundView {
            id: r.id.to_hex(),
            merchant_refund_id: r.merchant_refund_id.clone(),
            amount: r.amount,
            lines: r.lines.as_ref().map(|lines| {
                lines
                    .iter()
                    .map(|l| RefundLineView {
                        product_id: l.product_id.to_hex(),
                        variant_id: l.variant().to_hex(),
                        quantity: l.quantity,
                    })
                    .collect()
            }),
            restock: r.restock,
            reason: r.reason.clone(),
            kind: r.kind,
            state: r.state,
            by: r.by.clone(),
            at: rfc3339(r.at),
            settled_at: r.settled_at.map(rfc3339),
            last_error: r.last_error.clone(),
            replaces: r.replaces.clone(),
        }
    }
}

/// What the order's PhonePe payment collected: its total once a transaction paid it.
pub fn collected(order: &Order) -> Paise {
    if order.payment.transaction_id.is_some() && order.payment.provider == "phonepe" {
        order.total
    } else {
        Paise::ZERO
    }
}

/// Money of the order's own payment already given back or on its way back.
pub fn committed(order: &Order) -> Paise {
    order
        .refunds
        .iter()
        .filter(|r| r.counts_against_order() && r.state != RefundState::Failed)
        .fold(Paise::ZERO, |sum, r| sum + r.amount)
}

/// What may still be refunded of the order's own payment.
pub fn refundable(order: &Order) -> Paise {
    Paise((collected(order).get() - committed(order).get()).max(0))
}
