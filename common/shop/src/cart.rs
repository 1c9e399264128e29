//! The cart document (one per user) and its API view. Totals are always derived here, on
//! the server, from the snapshotted lines.

use crate::catalog::{display_name, legacy_sku, Product, Variant, DEFAULT_VARIANT_TITLE};
use crate::coupons::pricing;
use crate::tax::seller::ShippingConfig;
use crate::vocabulary::ids::{ProductId, UserId, VariantId};
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

/// A cart line is one variant: its name, title, SKU, price and image are snapshotted from
/// the catalog when added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", from = "StoredCartLine")]
pub struct CartLine {
    pub product_id: ProductId,
    pub variant_id: VariantId,
    pub sku: String,
    /// The product's name.
    pub name: String,
    pub variant_title: String,
    pub price: Paise,
    #[serde(default)]
    pub image: Option<String>,
    pub quantity: i64,
}

/// A cart line as stored, before or after variants: a line added before reads as the
/// product's single variant, whose id is the product's.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredCartLine {
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
}

impl From<StoredCartLine> for CartLine {
    fn from(s: StoredCartLine) -> Self {
        CartLine {
            variant_id: s.variant_id.unwrap_or(VariantId::from(s.product_id)),
            sku: s.sku.unwrap_or_else(|| legacy_sku(s.product_id)),
            product_id: s.product_id,
            name: s.name,
            variant_title: s
                .variant_title
                .unwrap_or_else(|| DEFAULT_VARIANT_TITLE.to_owned()),
            price: s.price,
            image: s.image,
            quantity: s.quantity,
        }
    }
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
    pub variant_id: String,
    pub sku: String,
    pub name: String,
    pub variant_title: String,
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
                    variant_id: l.variant_id.to_hex(),
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    variant_title: l.variant_title.clone(),
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

/// The line's variant in today's catalog, when it and its product are on sale.
pub fn variant_on_sale(line: &CartLine, products: &HashMap<ProductId, Product>) -> Option<Variant> {
    products
        .get(&line.product_id)
        .filter(|p| p.is_active)
        .and_then(|p| p.variant(line.variant_id))
        .filter(|v| v.is_active)
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
        .filter(|l| variant_on_sale(l, products).is_none())
        .collect();
    if !unavailable.is_empty() {
        let detail = match unavailable.as_slice() {
            [one] => format!(
                "'{}' is no longer available",
                display_name(&one.name, &one.variant_title)
            ),
            many => format!("{} items in the cart are no longer available", many.len()),
        };
        let lines: Vec<_> = unavailable
            .iter()
            .map(|l| {
                json!({
                    "productId": l.product_id.to_hex(),
                    "variantId": l.variant_id.to_hex(),
                    "name": l.name,
                    "variantTitle": l.variant_title,
                })
            })
            .collect();
        return Err(Error::new(ProblemCode::ProductUnavailable, detail).with("lines", lines));
    }
    untaxable(cart, products)
}

/// The cart's subtotal at today's catalog prices: what checkout charges once it has
/// refreshed any moved price. Every line must be in `products` (see `check_orderable`).
pub fn subtotal_at_catalog_prices(cart: &Cart, products: &HashMap<ProductId, Product>) -> Paise {
    cart.items.iter().fold(Paise::ZERO, |sum, l| {
        let line = variant_on_sale(l, products)
            .and_then(|v| v.price.checked_mul(l.quantity))
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
