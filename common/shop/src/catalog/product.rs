//! A product as stored, and as the shop shows it.

use crate::tax::{GstRate, Hsn};
use crate::vocabulary::ids::ProductId;
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::{now, rfc3339};
use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

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
    pub hsn: Option<Hsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gst_rate: Option<GstRate>,
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
    pub gst_rate: Option<GstRate>,
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
