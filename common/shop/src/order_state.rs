//! The order lifecycle: one enum and one transition function that every writer goes through.

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
            .filter(|from| matches!(transition(*from, to), Ok(Move::Apply)))
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
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<Move> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

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
                let got = transition(from, to);
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
