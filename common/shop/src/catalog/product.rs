//! A product as stored, and as the shop shows it.
//!
//! A product is what the shopper browses; a variant is what goes in a parcel. The variants
//! live inside the product's document (`variants`), so a product page is one read and a
//! product with its variants is created, imported or changed in one write. A document
//! stored before variants (no `variants` array, a top-level `stock`) is read as a product
//! with one variant whose id is the product's own: see [`Product::variants`] and
//! `docs/deployment.md` for the migration that rewrites such documents.

use crate::tax::{GstRate, Hsn};
use crate::vocabulary::ids::{ProductId, VariantId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::{now, rfc3339};
use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// At most this many options per product (Shopify's limit too).
pub const MAX_OPTIONS: usize = 3;
/// At most this many values per option.
pub const MAX_OPTION_VALUES: usize = 50;
/// The title of the single variant of a product without options.
pub const DEFAULT_VARIANT_TITLE: &str = "Default";

/// One of a product's options, e.g. `Size: ["6 in", "8 in"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

/// What couriers bill on besides weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionsCm {
    pub length: i64,
    pub breadth: i64,
    pub height: i64,
}

/// A variant as stored inside its product.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    #[serde(rename = "_id")]
    pub id: VariantId,
    /// Unique across the catalog; always text (never a number: leading zeros matter).
    pub sku: String,
    /// The option values joined by " / ", or "Default".
    pub title: String,
    /// This variant's value for each of the product's options, in the product's option
    /// order (`values[i]` belongs to `options[i]`).
    #[serde(default)]
    pub option_values: Vec<String>,
    pub price: Paise,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_at_price: Option<Paise>,
    #[serde(default)]
    pub stock: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_grams: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions_cm: Option<DimensionsCm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default)]
    pub is_active: bool,
}

impl Variant {
    /// "Kuber Brass Urli — 8 in / Antique", or the product's name alone for a product
    /// without options: how a cart line, an order item, a mail and an invoice name it.
    pub fn display_name(&self, product_name: &str) -> String {
        display_name(product_name, &self.title)
    }
}

/// A variant's name in print, from its product's name and its title: the one rule, for the
/// catalog's variants and the order items that snapshot them.
pub fn display_name(product_name: &str, variant_title: &str) -> String {
    if variant_title == DEFAULT_VARIANT_TITLE {
        product_name.to_owned()
    } else {
        format!("{product_name} — {variant_title}")
    }
}

/// The SKU given to the single variant of a product stored before variants: derived from
/// the product's id, so every run of the migration (and every reader before it) agrees.
pub fn legacy_sku(id: ProductId) -> String {
    format!("PIT-{}", id.to_hex().to_uppercase())
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
    /// The lowest price among the active variants, kept beside them for readers that list
    /// products (and, on a document stored before variants, the one variant's price).
    pub price: Paise,
    #[serde(default)]
    pub images: Vec<String>,
    /// Only on documents stored before variants, where it is the one variant's stock. A
    /// product with `variants` keeps its stock on them and stores no `stock` here, so a
    /// Lambda of the previous release (which takes stock from this field) finds none to take
    /// and refuses rather than oversells during a deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<i64>,
    #[serde(default)]
    pub is_active: bool,
    /// Optional only because products stored before GST was modelled lack it; every
    /// product created now has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsn: Option<Hsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gst_rate: Option<GstRate>,
    #[serde(default = "yes")]
    pub cod_allowed: bool,
    #[serde(default)]
    pub options: Vec<ProductOption>,
    /// Empty only on documents stored before variants.
    #[serde(default)]
    pub variants: Vec<Variant>,
    #[serde(default = "now")]
    pub created_at: DateTime,
    #[serde(default = "now")]
    pub updated_at: DateTime,
}

fn yes() -> bool {
    true
}

impl Product {
    /// True for a document stored before variants.
    pub fn is_legacy(&self) -> bool {
        self.variants.is_empty()
    }

    /// Every variant, active or not. A document stored before variants has one, with the
    /// product's id, price and stock and a SKU derived from its id.
    pub fn variants(&self) -> Cow<'_, [Variant]> {
        if !self.is_legacy() {
            return Cow::Borrowed(&self.variants);
        }
        Cow::Owned(vec![Variant {
            id: VariantId::from(self.id),
            sku: legacy_sku(self.id),
            title: DEFAULT_VARIANT_TITLE.to_owned(),
            option_values: Vec::new(),
            price: self.price,
            compare_at_price: None,
            stock: self.stock.unwrap_or(0),
            weight_grams: None,
            dimensions_cm: None,
            image: None,
            is_active: true,
        }])
    }

    pub fn variant(&self, id: VariantId) -> Option<Variant> {
        self.variants().iter().find(|v| v.id == id).cloned()
    }

    /// The variant of a product that has only one: what a caller naming the product alone
    /// (the owner's stock route, a client of the release before variants) means.
    pub fn only_variant(&self) -> Option<Variant> {
        match self.variants().as_ref() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// The one active variant, when exactly one is active: what a shopper naming the
    /// product alone can be sold.
    pub fn only_active_variant(&self) -> Option<Variant> {
        let variants = self.variants();
        let mut active = variants.iter().filter(|v| v.is_active);
        match (active.next(), active.next()) {
            (Some(one), None) => Some(one.clone()),
            _ => None,
        }
    }

    /// The lowest and highest price among the active variants; `None` when none is active.
    pub fn price_range(&self) -> Option<(Paise, Paise)> {
        let variants = self.variants();
        let mut prices = variants.iter().filter(|v| v.is_active).map(|v| v.price);
        let first = prices.next()?;
        Some(prices.fold((first, first), |(lo, hi), p| (lo.min(p), hi.max(p))))
    }

    /// Units on hand across the active variants.
    pub fn total_stock(&self) -> i64 {
        self.variants()
            .iter()
            .filter(|v| v.is_active)
            .map(|v| v.stock.max(0))
            .sum()
    }
}

/// A variant as the shop shows it (the contract's Variant).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantView {
    pub id: String,
    pub sku: String,
    pub title: String,
    /// `{"Size": "8 in", "Finish": "Antique"}`, in the product's option order.
    pub options: serde_json::Map<String, serde_json::Value>,
    pub price: Paise,
    pub compare_at_price: Option<Paise>,
    pub stock: i64,
    pub weight_grams: Option<i64>,
    pub dimensions_cm: Option<DimensionsCm>,
    pub image: Option<String>,
    pub is_active: bool,
}

impl VariantView {
    fn new(v: &Variant, options: &[ProductOption]) -> Self {
        VariantView {
            id: v.id.to_hex(),
            sku: v.sku.clone(),
            title: v.title.clone(),
            options: options
                .iter()
                .zip(&v.option_values)
                .map(|(o, value)| (o.name.clone(), value.clone().into()))
                .collect(),
            price: v.price,
            compare_at_price: v.compare_at_price,
            stock: v.stock.max(0),
            weight_grams: v.weight_grams,
            dimensions_cm: v.dimensions_cm,
            image: v.image.clone(),
            is_active: v.is_active,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PriceRange {
    pub min: Paise,
    pub max: Paise,
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
    /// The lowest price among the active variants.
    pub price: Paise,
    pub price_range: PriceRange,
    pub images: Vec<String>,
    /// The sum of the active variants' stock.
    pub stock: i64,
    pub is_active: bool,
    /// `null` only on products stored before GST was modelled, which checkout refuses.
    pub hsn: Option<String>,
    pub gst_rate: Option<GstRate>,
    pub cod_allowed: bool,
    pub options: Vec<ProductOption>,
    pub variants: Vec<VariantView>,
    pub created_at: String,
    pub updated_at: String,
}

impl ProductView {
    /// The owner's view: every variant, active or not.
    pub fn for_owner(p: Product) -> Self {
        Self::new(p, false)
    }

    /// The shopper's view: active variants only.
    pub fn for_shopper(p: Product) -> Self {
        Self::new(p, true)
    }

    fn new(p: Product, active_only: bool) -> Self {
        let (min, max) = p.price_range().unwrap_or((p.price, p.price));
        let variants = p
            .variants()
            .iter()
            .filter(|v| v.is_active || !active_only)
            .map(|v| VariantView::new(v, &p.options))
            .collect();
        ProductView {
            id: p.id.to_hex(),
            price: min,
            price_range: PriceRange { min, max },
            stock: p.total_stock(),
            variants,
            name: p.name,
            slug: p.slug,
            description: p.description,
            images: p.images,
            is_active: p.is_active,
            hsn: p.hsn.map(|h| h.as_str().to_owned()),
            gst_rate: p.gst_rate,
            cod_allowed: p.cod_allowed,
            options: p.options,
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

impl From<Product> for ProductView {
    /// The owner's view; public reads use [`ProductView::for_shopper`].
    fn from(p: Product) -> Self {
        Self::for_owner(p)
    }
}
