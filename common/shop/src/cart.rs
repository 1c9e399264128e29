//! The cart document (one per user) and its API view. Totals are always derived here, on
//! the server, from the snapshotted lines.

use crate::catalog::Product;
use crate::coupons::pricing;
use crate::tax::seller::ShippingConfig;
use crate::vocabulary::ids::{ProductId, UserId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::rfc3339;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, DateTime};
use platform::db::IndexSpec;
use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

/// The carts, one document per user.
pub const CARTS: &str = "carts";

pub fn indexes() -> Vec<IndexSpec> {
    vec![IndexSpec::unique(CARTS, doc! { "userId": 1 })]
}

pub const MAX_QUANTITY_PER_LINE: i64 = 10;
pub const MAX_LINES: usize = 50;

/// A cart line: name, price and image are snapshotted from the catalog when added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub product_id: ProductId,
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
    pub user_id: UserId,
    #[serde(default)]
    pub items: Vec<CartLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime>,
}

impl Cart {
    pub fn empty(user_id: &str) -> Self {
        Cart {
            id: None,
            user_id: UserId::from(user_id),
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
    pub user_id: UserId,
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

/// What checkout refuses before it prices anything, and the coupon quote with it, so the
/// quote never promises what checkout then contradicts: products gone or deactivated
/// (`409 PRODUCT_UNAVAILABLE`), and products the shop has not given an HSN code and GST rate
/// (`409 PRODUCT_NOT_TAXABLE`, never silently taxed at 0). `products` are today's catalog
/// rows for the cart's lines.
pub fn check_orderable(cart: &Cart, products: &HashMap<ProductId, Product>) -> Result<()> {
    let unavailable: Vec<&CartLine> = cart
        .items
        .iter()
        .filter(|l| !products.get(&l.product_id).is_some_and(|p| p.is_active))
        .collect();
    if !unavailable.is_empty() {
        let detail = match unavailable.as_slice() {
            [one] => format!("'{}' is no longer available", one.name),
            many => format!("{} items in the cart are no longer available", many.len()),
        };
        let lines: Vec<_> = unavailable
            .iter()
            .map(|l| json!({ "productId": l.product_id.to_hex(), "name": l.name }))
            .collect();
        return Err(Error::new(ProblemCode::ProductUnavailable, detail).with("lines", lines));
    }
    untaxable(cart, products)
}

/// The cart's subtotal at today's catalog prices: what checkout charges once it has
/// refreshed any moved price. Every line must be in `products` (see `check_orderable`).
pub fn subtotal_at_catalog_prices(cart: &Cart, products: &HashMap<ProductId, Product>) -> Paise {
    cart.items.iter().fold(Paise::ZERO, |sum, l| {
        let line = products
            .get(&l.product_id)
            .and_then(|p| p.price.checked_mul(l.quantity))
            .unwrap_or(Paise(i64::MAX));
        sum.checked_add(line).unwrap_or(Paise(i64::MAX))
    })
}

fn untaxable(cart: &Cart, products: &HashMap<ProductId, Product>) -> Result<()> {
    let missing: Vec<&Product> = cart
        .items
        .iter()
        .map(|l| &products[&l.product_id])
        .filter(|p| p.hsn.is_none() || p.gst_rate.is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing.iter().map(|p| format!("'{}'", p.name)).collect();
    tracing::error!(
        products = ?missing.iter().map(|p| p.id.to_hex()).collect::<Vec<_>>(),
        "checkout refused: products without an HSN code or GST rate"
    );
    let detail = format!(
        "{} cannot be ordered yet: the shop has not set {} HSN code and GST rate; \
         please try again later or remove {} from the cart",
        names.join(", "),
        if missing.len() == 1 { "its" } else { "their" },
        if missing.len() == 1 { "it" } else { "them" },
    );
    let lines: Vec<_> = missing
        .iter()
        .map(|p| json!({ "productId": p.id.to_hex(), "name": p.name }))
        .collect();
    Err(Error::new(ProblemCode::ProductNotTaxable, detail).with("lines", lines))
}
