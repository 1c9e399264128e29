//! The cart document (one per user) and its API view. Totals are always derived here, on
//! the server, from the snapshotted lines.

use crate::config::ShippingConfig;
use crate::models::rfc3339;
use crate::money::Paise;
use crate::pricing;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

pub const MAX_QUANTITY_PER_LINE: i64 = 10;
pub const MAX_LINES: usize = 50;

/// A cart line: name, price and image are snapshotted from the catalog when added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: ObjectId,
    pub name: String,
    pub price: Paise,
    #[serde(default)]
    pub image: Option<String>,
    pub quantity: i64,
}

impl CartLine {
    pub fn line_total(&self) -> Paise {
        self.price
            .checked_mul(self.quantity)
            .unwrap_or(Paise(i64::MAX))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ObjectId>,
    pub user_id: String,
    #[serde(default)]
    pub items: Vec<CartLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime>,
}

impl Cart {
    pub fn empty(user_id: &str) -> Self {
        Cart {
            id: None,
            user_id: user_id.to_owned(),
            items: Vec::new(),
            updated_at: None,
        }
    }

    pub fn subtotal(&self) -> Paise {
        self.items.iter().fold(Paise::ZERO, |acc, l| {
            acc.checked_add(l.line_total()).unwrap_or(Paise(i64::MAX))
        })
    }

    pub fn item_count(&self) -> i64 {
        self.items.iter().map(|l| l.quantity).sum()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub product_id: String,
    pub name: String,
    pub price: Paise,
    pub image: Option<String>,
    pub quantity: i64,
    pub line_total: Paise,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub user_id: String,
    pub items: Vec<CartLineView>,
    pub item_count: i64,
    pub subtotal: Paise,
    /// Before any coupon: a coupon can only make shipping free, never cost more.
    pub shipping_fee: Paise,
    /// `subtotal + shippingFee`.
    pub total: Paise,
    pub currency: &'static str,
    pub updated_at: Option<String>,
}

impl CartView {
    /// Priced by `pricing::quote`, as apply-coupon and checkout price it.
    pub fn new(c: &Cart, shipping: ShippingConfig) -> Self {
        let quote = pricing::quote(c.subtotal(), Paise::ZERO, shipping);
        CartView {
            user_id: c.user_id.clone(),
            items: c
                .items
                .iter()
                .map(|l| CartLineView {
                    product_id: l.product_id.to_hex(),
                    name: l.name.clone(),
                    price: l.price,
                    image: l.image.clone(),
                    quantity: l.quantity,
                    line_total: l.line_total(),
                })
                .collect(),
            item_count: c.item_count(),
            subtotal: quote.subtotal,
            shipping_fee: quote.shipping_fee,
            total: quote.total,
            currency: "INR",
            updated_at: c.updated_at.map(rfc3339),
        }
    }
}
