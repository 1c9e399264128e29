//! What the owner sends for a product's options and variants, and the rules that hold them
//! together. Everything here only validates: the writes are `catalog`'s, so one file owns a
//! product's stock.

use super::product::{DimensionsCm, ProductOption, Variant, DEFAULT_VARIANT_TITLE};
use super::{check, present, MAX_OPTIONS, MAX_OPTION_VALUES, MAX_PAISE, MAX_STOCK};
use crate::vocabulary::ids::VariantId;
use crate::vocabulary::money::Paise;
use platform::error::FieldError;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};

/// The most variants one product may have: a product page stays one small document.
pub const MAX_VARIANTS: usize = 100;

/// A new variant (`POST /admin/products` `variants[i]`, `POST …/variants`) or a variant's
/// patch (`PATCH …/variants/{variantId}`): only the fields named change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariantInput {
    #[serde(default)]
    pub sku: Option<String>,
    /// `{"Size": "8 in", "Finish": "Antique"}`: one value per option of the product.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub price: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub compare_at_price: Option<Option<i64>>,
    /// The initial stock of a new variant; a patch naming it is refused, naming the stock
    /// route, since stock only moves with a ledger entry.
    #[serde(default)]
    pub stock: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub weight_grams: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub dimensions_cm: Option<Option<DimensionsCm>>,
    #[serde(default, deserialize_with = "present")]
    pub image: Option<Option<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// `options` of a product: at most 3, distinct non-empty names, each with 1–50 distinct
/// non-empty values.
pub(crate) fn check_options(errors: &mut Vec<FieldError>, options: &[ProductOption]) {
    check(
        errors,
        options.len() <= MAX_OPTIONS,
        "options",
        "at most 3 options",
    );
    let mut names = HashSet::new();
    for (i, o) in options.iter().enumerate() {
        let field = format!("options[{i}].name");
        check(
            errors,
            is_label(&o.name),
            &field,
            "must be 1 to 50 characters",
        );
        check(
            errors,
            names.insert(o.name.trim().to_lowercase()),
            &field,
            "two options have this name",
        );
        let field = format!("options[{i}].values");
        check(
            errors,
            (1..=MAX_OPTION_VALUES).contains(&o.values.len()),
            &field,
            "must have 1 to 50 values",
        );
        let mut seen = HashSet::new();
        for (j, v) in o.values.iter().enumerate() {
            let field = format!("options[{i}].values[{j}]");
            check(errors, is_label(v), &field, "must be 1 to 50 characters");
            check(
                errors,
                seen.insert(v.trim().to_lowercase()),
                &field,
                "is listed twice",
            );
        }
    }
}

/// An option's name or value: what a shopper picks from, so printable and short.
fn is_label(s: &str) -> bool {
    let n = s.chars().count();
    (1..=50).contains(&n) && s.trim() == s && !s.chars().any(char::is_control)
}

/// 1–64 characters of `A-Z a-z 0-9 - _ . /`.
pub fn is_valid_sku(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

/// The SKU a variant gets when the owner names none: derived from its id, so it is unique.
pub fn generated_sku(id: VariantId) -> String {
    format!("PIT-{}", id.to_hex().to_uppercase())
}

/// The title of a variant with these option values.
pub fn title_of(option_values: &[String]) -> String {
    if option_values.is_empty() {
        DEFAULT_VARIANT_TITLE.to_owned()
    } else {
        option_values.join(" / ")
    }
}

pub(crate) fn check_price(errors: &mut Vec<FieldError>, field: &str, price: i64) {
    check(
        errors,
        (100..=MAX_PAISE).contains(&price),
        field,
        "must be paise from 100 to 10,00,00,000.00",
    );
}

pub(crate) fn check_stock(errors: &mut Vec<FieldError>, field: &str, stock: i64) {
    check(
        errors,
        (0..=MAX_STOCK).contains(&stock),
        field,
        "must be 0 to 1,000,000",
    );
}

/// A new variant of a product with `options`, from `input`; `at` prefixes the fields it
/// names (`variants[2].`, or nothing for the top-level body of a single-variant product).
/// Returns the variant (at zero stock) and its initial stock.
pub(crate) fn new_variant(
    errors: &mut Vec<FieldError>,
    at: &str,
    input: VariantInput,
    options: &[ProductOption],
    id: VariantId,
) -> (Variant, i64) {
    let field = |f: &str| format!("{at}{f}");
    if input.price.is_none() {
        errors.push(FieldError::new(field("price"), "is required"));
    }
    let stock = match input.stock {
        None => {
            errors.push(FieldError::new(field("stock"), "is required"));
            0
        }
        Some(n) => {
            check_stock(errors, &field("stock"), n);
            n
        }
    };
    if !options.is_empty() && input.options.is_none() {
        errors.push(FieldError::new(
            field("options"),
            "is required: one value for each of the product's options",
        ));
    }
    let mut variant = Variant {
        id,
        sku: generated_sku(id),
        title: DEFAULT_VARIANT_TITLE.to_owned(),
        option_values: Vec::new(),
        price: Paise(input.price.unwrap_or(0)),
        compare_at_price: None,
        stock: 0,
        weight_grams: None,
        dimensions_cm: None,
        image: None,
        is_active: true,
    };
    apply(
        errors,
        at,
        &mut variant,
        VariantInput {
            stock: None,
            ..input
        },
        options,
    );
    (variant, stock)
}

/// Applies the fields `input` names to `v`, validating each; `stock` is refused.
pub(crate) fn apply(
    errors: &mut Vec<FieldError>,
    at: &str,
    v: &mut Variant,
    input: VariantInput,
    options: &[ProductOption],
) {
    let field = |f: &str| format!("{at}{f}");
    check(
        errors,
        input.stock.is_none(),
        &field("stock"),
        "stock only moves: use POST /admin/products/{id}/variants/{variantId}/stock",
    );
    if let Some(sku) = input.sku {
        check(
            errors,
            is_valid_sku(&sku),
            &field("sku"),
            "must be 1 to 64 characters of A-Z a-z 0-9 - _ . /",
        );
        v.sku = sku;
    }
    if let Some(chosen) = input.options {
        let names: HashSet<&str> = options.iter().map(|o| o.name.as_str()).collect();
        for name in chosen.keys().filter(|k| !names.contains(k.as_str())) {
            errors.push(FieldError::new(
                field(&format!("options.{name}")),
                "is not an option of this product",
            ));
        }
        let mut values = Vec::with_capacity(options.len());
        for o in options {
            match chosen.get(&o.name) {
                None => errors.push(FieldError::new(
                    field(&format!("options.{}", o.name)),
                    "is required",
                )),
                Some(value) => {
                    check(
                        errors,
                        o.values.contains(value),
                        &field(&format!("options.{}", o.name)),
                        "is not one of the option's values",
                    );
                    values.push(value.clone());
                }
            }
        }
        v.title = title_of(&values);
        v.option_values = values;
    }
    if let Some(price) = input.price {
        check_price(errors, &field("price"), price);
        v.price = Paise(price);
    }
    if let Some(compare) = input.compare_at_price {
        v.compare_at_price = compare.map(Paise);
    }
    if let Some(grams) = input.weight_grams {
        check(
            errors,
            grams.is_none_or(|g| (1..=100_000).contains(&g)),
            &field("weightGrams"),
            "must be 1 to 100,000 grams",
        );
        v.weight_grams = grams;
    }
    if let Some(dims) = input.dimensions_cm {
        check(
            errors,
            dims.is_none_or(|d| {
                [d.length, d.breadth, d.height]
                    .iter()
                    .all(|n| (1..=500).contains(n))
            }),
            &field("dimensionsCm"),
            "each of length, breadth and height must be 1 to 500 cm",
        );
        v.dimensions_cm = dims;
    }
    if let Some(image) = input.image {
        check(
            errors,
            image.as_deref().is_none_or(super::is_http_url),
            &field("image"),
            "must be an http(s) URL",
        );
        v.image = image;
    }
    if let Some(active) = input.is_active {
        v.is_active = active;
    }
    // Checked on the result, so a patch of the price alone cannot undercut the compare-at.
    check(
        errors,
        v.compare_at_price
            .is_none_or(|c| c >= v.price && c.get() <= MAX_PAISE),
        &field("compareAtPrice"),
        "must be at least the price, or null",
    );
}

/// The rules between a product's variants: one of each combination of option values, one
/// of each SKU. `at(i)` names variant `i`'s fields.
pub(crate) fn check_together(
    errors: &mut Vec<FieldError>,
    variants: &[Variant],
    at: impl Fn(usize) -> String,
) {
    check(
        errors,
        (1..=MAX_VARIANTS).contains(&variants.len()),
        "variants",
        "a product has 1 to 100 variants",
    );
    let (mut combos, mut skus) = (HashSet::new(), HashSet::new());
    for (i, v) in variants.iter().enumerate() {
        check(
            errors,
            combos.insert(&v.option_values),
            &format!("{}options", at(i)),
            "another variant has these option values",
        );
        check(
            errors,
            skus.insert(v.sku.as_str()),
            &format!("{}sku", at(i)),
            "another variant of this product has this SKU",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_short_plain_text() {
        for ok in ["URLI-8-ANT", "a", "0012", "x_y.z/1", &"A".repeat(64)] {
            assert!(is_valid_sku(ok), "{ok}");
        }
        for bad in ["", "URLI 8", "urli#8", "ürli", &"A".repeat(65), "{$ne:1}"] {
            assert!(!is_valid_sku(bad), "{bad}");
        }
    }

    #[test]
    fn a_title_joins_the_values_or_is_default() {
        assert_eq!(title_of(&[]), DEFAULT_VARIANT_TITLE);
        assert_eq!(
            title_of(&["8 in".into(), "Antique".into()]),
            "8 in / Antique"
        );
    }

    #[test]
    fn a_variant_names_every_problem_under_its_prefix() {
        let options = vec![ProductOption {
            name: "Size".into(),
            values: vec!["6 in".into(), "8 in".into()],
        }];
        let input = VariantInput {
            sku: Some("bad sku".into()),
            options: Some(BTreeMap::from([("Size".into(), "10 in".into())])),
            price: Some(99),
            compare_at_price: Some(Some(50)),
            weight_grams: Some(Some(0)),
            ..VariantInput::default()
        };
        let mut errors = Vec::new();
        new_variant(
            &mut errors,
            "variants[1].",
            input,
            &options,
            VariantId::new(),
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "variants[1].stock",
                "variants[1].sku",
                "variants[1].options.Size",
                "variants[1].price",
                "variants[1].weightGrams",
                "variants[1].compareAtPrice",
            ]
        );
    }
}
