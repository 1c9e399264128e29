//! How an order's payment moves: the fields of `payment` each move sets. Payments, refunds
//! and the order's transitions carry them into the update that makes the move, so
//! `payment.status` and `payment.flag` are spelled here only. It sits with the model, below
//! everything that moves a payment (`crate::payments` re-exports it).

use super::{FlagReason, PaymentFlag, PaymentStatus, ORDERS};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use mongodb::bson::{doc, Bson, DateTime, Document};
use platform::db::IndexSpec;

/// The orders' index of their payment's status.
pub fn indexes() -> Vec<IndexSpec> {
    vec![IndexSpec::plain(ORDERS, doc! { "payment.status": 1 })]
}

/// What happens to an order's payment.
#[derive(Debug, Clone)]
pub enum PaymentMove<'a> {
    /// The order waits for this attempt's money.
    Awaiting { merchant_order_id: &'a str },
    /// This attempt's money paid the order.
    Paid {
        transaction_id: &'a str,
        merchant_order_id: &'a str,
    },
    /// This attempt's money arrived after the order was cancelled: kept on record, flagged,
    /// and given back, the payment's status unchanged.
    PaidAfterCancel {
        transaction_id: &'a str,
        merchant_order_id: &'a str,
    },
    /// The attempt the order waited for failed.
    Failed,
    /// For a person to look at.
    Flagged(PaymentFlag),
    /// A refund of the payment was decided.
    RefundDecided,
    /// The refunds settled so far leave the payment `status`, `refunded` given back.
    Refunded {
        status: PaymentStatus,
        refunded: Paise,
        at: DateTime,
    },
}

impl PaymentMove<'_> {
    /// What the payment must be for the move to apply, for the filter of its update; empty:
    /// anything.
    pub fn leaves(&self) -> Document {
        match self {
            // Only while the order waits for money: a failure never undoes a payment.
            PaymentMove::Failed => doc! { "payment.status": PaymentStatus::Pending },
            _ => Document::new(),
        }
    }

    /// The order's fields the move sets, for the `$set` of the update that makes it (a status
    /// change's, a refund's, or one of this module's own).
    pub fn fields(&self) -> Document {
        match self {
            PaymentMove::Awaiting { merchant_order_id } => doc! {
                "payment.status": PaymentStatus::Pending,
                "payment.merchantOrderId": *merchant_order_id,
            },
            PaymentMove::Paid {
                transaction_id,
                merchant_order_id,
            } => doc! {
                "payment.status": PaymentStatus::Paid,
                "payment.transactionId": *transaction_id,
                "payment.merchantOrderId": *merchant_order_id,
                "payment.paidAt": now(),
                "payment.flag": Bson::Null,
            },
            PaymentMove::PaidAfterCancel {
                transaction_id,
                merchant_order_id,
            } => doc! {
                "payment.transactionId": *transaction_id,
                "payment.merchantOrderId": *merchant_order_id,
                "payment.paidAt": now(),
                "payment.flag": PaymentFlag::from(FlagReason::PaidAfterCancel),
            },
            PaymentMove::Failed => doc! { "payment.status": PaymentStatus::Failed },
            PaymentMove::Flagged(flag) => doc! { "payment.flag": flag.clone() },
            PaymentMove::RefundDecided => doc! { "payment.status": PaymentStatus::RefundPending },
            PaymentMove::Refunded {
                status,
                refunded,
                at,
            } => {
                let mut set = doc! {
                    "payment.status": *status,
                    "payment.refundedAmount": refunded.get(),
                };
                if *status == PaymentStatus::Refunded {
                    set.insert("payment.refundedAt", *at);
                }
                set
            }
        }
    }
}
