//! The order's statuses: one enum, and the table of allowed moves that `super::transition` applies.

use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Created,
    PaymentPending,
    Paid,
    Packed,
    Shipped,
    Delivered,
    Cancelled,
}

platform::stored_as_str!(OrderStatus);

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Created,
        OrderStatus::PaymentPending,
        OrderStatus::Paid,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::PaymentPending => "payment_pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Statuses from which `to` may be reached (for conditional updates in MongoDB).
    pub fn sources_of(to: OrderStatus) -> Vec<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .filter(|from| matches!(check_move(*from, to), Ok(Move::Apply)))
            .collect()
    }

    /// Money has been taken for orders in these states.
    pub fn is_paid_state(self) -> bool {
        matches!(
            self,
            OrderStatus::Paid | OrderStatus::Packed | OrderStatus::Shipped | OrderStatus::Delivered
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Change the status and append to the history.
    Apply,
    /// The order is already there: return it unchanged.
    AlreadyThere,
}

/// The only place that knows which moves are allowed.
pub fn check_move(from: OrderStatus, to: OrderStatus) -> Result<Move> {
    use OrderStatus::*;
    if from == to {
        return Ok(Move::AlreadyThere);
    }
    let allowed = matches!(
        (from, to),
        (Created, PaymentPending)
            | (Created | PaymentPending, Paid)
            | (Created | PaymentPending, Cancelled)
            | (Paid, Packed)
            | (Packed | Paid, Shipped)
            | (Shipped, Delivered)
            | (Paid | Packed, Cancelled)
    );
    if allowed {
        Ok(Move::Apply)
    } else {
        Err(Error::new(
            ProblemCode::InvalidTransition,
            format!("An order that is {from} cannot become {to}"),
        ))
    }
}

/// Something the owner may do to an order, named as the last segment of its route
/// (`POST /admin/orders/{id}/pack`, ...). The console offers an order only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerAction {
    Pack,
    Ship,
    Deliver,
    Cancel,
    Refund,
}

impl OwnerAction {
    pub const ALL: [OwnerAction; 5] = [
        OwnerAction::Pack,
        OwnerAction::Ship,
        OwnerAction::Deliver,
        OwnerAction::Cancel,
        OwnerAction::Refund,
    ];

    /// The status the action moves an order to; a refund moves none.
    pub fn target(self) -> Option<OrderStatus> {
        match self {
            OwnerAction::Pack => Some(OrderStatus::Packed),
            OwnerAction::Ship => Some(OrderStatus::Shipped),
            OwnerAction::Deliver => Some(OrderStatus::Delivered),
            OwnerAction::Cancel => Some(OrderStatus::Cancelled),
            OwnerAction::Refund => None,
        }
    }
}

/// What the owner may do to an order in `status`: each move `transition` applies (one the
/// order has already made answers unchanged, so it is not offered), and a refund once money
/// was collected for it, whatever the status. How much is left to give back is the refund's
/// own decision, which it answers before anything is sent (the refund preview).
pub fn owner_actions(status: OrderStatus, money_collected: bool) -> Vec<OwnerAction> {
    OwnerAction::ALL
        .into_iter()
        .filter(|action| match action.target() {
            Some(to) => matches!(check_move(status, to), Ok(Move::Apply)),
            None => money_collected,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn the_owner_is_offered_the_moves_the_table_allows_and_a_refund_of_collected_money() {
        use OwnerAction::*;
        let offered = |s, collected| owner_actions(s, collected);
        assert_eq!(offered(Created, false), vec![Cancel]);
        assert_eq!(offered(PaymentPending, false), vec![Cancel]);
        assert_eq!(offered(Paid, true), vec![Pack, Ship, Cancel, Refund]);
        assert_eq!(offered(Packed, true), vec![Ship, Cancel, Refund]);
        assert_eq!(offered(Shipped, true), vec![Deliver, Refund]);
        assert_eq!(offered(Delivered, true), vec![Refund]);
        assert_eq!(offered(Cancelled, true), vec![Refund]);
        assert_eq!(offered(Cancelled, false), vec![]);
        // A zero-total order is paid with nothing collected: nothing to refund.
        assert_eq!(offered(Paid, false), vec![Pack, Ship, Cancel]);
    }

    #[test]
    fn every_pair_follows_the_contract_table() {
        let allowed = [
            (Created, PaymentPending),
            (Created, Paid),
            (PaymentPending, Paid),
            (Created, Cancelled),
            (PaymentPending, Cancelled),
            (Paid, Packed),
            (Packed, Shipped),
            (Shipped, Delivered),
            (Paid, Shipped),
            (Paid, Cancelled),
            (Packed, Cancelled),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let got = check_move(from, to);
                if from == to {
                    assert_eq!(got.unwrap(), Move::AlreadyThere);
                } else if allowed.contains(&(from, to)) {
                    assert_eq!(got.unwrap(), Move::Apply, "{from}->{to}");
                } else {
                    assert_eq!(
                        got.unwrap_err().code(),
                        "INVALID_TRANSITION",
                        "{from}->{to}"
                    );
                }
            }
        }
    }

    #[test]
    fn sources_are_derived_from_the_table() {
        assert_eq!(
            OrderStatus::sources_of(Cancelled),
            vec![Created, PaymentPending, Paid, Packed]
        );
        assert_eq!(OrderStatus::sources_of(Shipped), vec![Paid, Packed]);
    }
}
