//! A realistic demo catalog and coupons, created through the same `common::shop::catalog`
//! and `common::shop::coupons` functions the owner's routes use, so seeding exercises the
//! real validation. Seeding only adds what is missing: a product or coupon that exists (by
//! slug or code) is left exactly as it is, so its stock, price and coupon use survive every
//! `make seed` and `make dev`.

use common::platform::services::Services;
use common::shop::catalog::{self, ProductInput};
use common::shop::coupons::{self, CouponInput};
use serde_json::{json, Value};

fn img(slug: &str) -> Vec<String> {
    vec![
        format!("https://images.pitalya.example/products/{slug}/1.jpg"),
        format!("https://images.pitalya.example/products/{slug}/2.jpg"),
    ]
}

/// (name, slug, description, price in paise, stock, active, HSN, GST in basis points).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    bool,
    &'static str,
    i64,
);

pub fn demo_products() -> Vec<Value> {
    // HSN 9405 lamps, 7418 brass utensils and tableware, 7419 other brass art ware, 8306
    // bells and statuettes.
    let rows: [Row; 10] = [
        (
            "Brass Diya (Set of 2)",
            "brass-diya-set-of-2",
            "Hand-beaten brass oil lamps from Moradabad.",
            59_900,
            40,
            true,
            "9405",
            500,
        ),
        (
            "Kuber Brass Urli",
            "kuber-brass-urli",
            "A wide urli for floating flowers and diyas, 10 inch.",
            249_900,
            12,
            true,
            "7418",
            500,
        ),
        (
            "Peacock Brass Lamp",
            "peacock-brass-lamp",
            "Five-wick samai with a peacock crest, 14 inch.",
            389_000,
            6,
            true,
            "9405",
            500,
        ),
        (
            "Brass Pooja Thali Set",
            "brass-pooja-thali-set",
            "Thali, kalash, diya, bell and incense stand.",
            129_900,
            25,
            true,
            "7418",
            500,
        ),
        (
            "Hammered Brass Tumbler",
            "hammered-brass-tumbler",
            "Tin-lined, 300 ml, for water and buttermilk.",
            79_900,
            60,
            true,
            "7418",
            500,
        ),
        (
            "Brass Ganesha Idol",
            "brass-ganesha-idol",
            "Solid cast brass, antique finish, 6 inch.",
            459_900,
            8,
            true,
            "8306",
            1200,
        ),
        (
            "Temple Bell (Ghanti)",
            "temple-bell-ghanti",
            "Bright-toned hand bell with Nandi handle.",
            89_900,
            0,
            true,
            "8306",
            500,
        ),
        (
            "Brass Akhand Diya",
            "brass-akhand-diya",
            "Glass-shielded diya that stays lit for hours.",
            149_900,
            0,
            true,
            "9405",
            500,
        ),
        (
            "Brass Kalash with Coconut Stand",
            "brass-kalash-coconut-stand",
            "Traditional kalash for griha pravesh.",
            179_900,
            15,
            true,
            "7419",
            500,
        ),
        (
            "Vintage Brass Hookah (discontinued)",
            "vintage-brass-hookah",
            "No longer made.",
            999_900,
            3,
            false,
            "7419",
            1800,
        ),
    ];
    let mut products: Vec<Value> = rows.iter()
        .map(|(name, slug, desc, price, stock, active, hsn, gst)| {
            json!({ "name": name, "slug": slug, "description": desc, "price": price, "images": img(slug), "stock": stock, "isActive": active, "hsn": hsn, "gstRate": gst })
        })
        .collect();
    products.extend(products_with_variants());
    products
}

/// (size, finish, SKU, price in paise, stock, grams, [length, breadth, height] cm).
type VariantRow = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    i64,
    [i64; 3],
);

/// Brassware as it is really sold: sizes and finishes, each a variant with its own SKU,
/// price, stock, weight and carton (what couriers bill on).
fn products_with_variants() -> Vec<Value> {
    let size_finish = |sizes: &[&str], finishes: &[&str]| {
        json!([
            { "name": "Size", "values": sizes },
            { "name": "Finish", "values": finishes },
        ])
    };
    let variants = |rows: &[VariantRow]| -> Vec<Value> {
        rows.iter()
            .map(|(size, finish, sku, price, stock, grams, [l, b, h])| {
                json!({
                    "sku": sku, "options": { "Size": size, "Finish": finish },
                    "price": price, "stock": stock, "weightGrams": grams,
                    "dimensionsCm": { "length": l, "breadth": b, "height": h },
                })
            })
            .collect()
    };
    vec![
        json!({
            "name": "Kuber Brass Urli Bowl", "slug": "kuber-brass-urli-bowl",
            "description": "The urli in three sizes, polished bright or darkened antique.",
            "images": img("kuber-brass-urli-bowl"), "hsn": "7418", "gstRate": 1200,
            "options": size_finish(&["6 in", "8 in", "10 in"], &["Polished", "Antique"]),
            "variants": variants(&[
                ("6 in", "Polished", "KBU-06-POL", 149_900, 10, 900, [18, 18, 8]),
                ("6 in", "Antique", "KBU-06-ANT", 159_900, 6, 900, [18, 18, 8]),
                ("8 in", "Polished", "KBU-08-POL", 249_900, 8, 1_400, [23, 23, 9]),
                ("8 in", "Antique", "KBU-08-ANT", 269_900, 4, 1_400, [23, 23, 9]),
                ("10 in", "Polished", "KBU-10-POL", 349_900, 3, 2_100, [28, 28, 10]),
            ]),
        }),
        json!({
            "name": "Brass Hanging Diya", "slug": "brass-hanging-diya",
            "description": "A chain-hung lamp for the doorway, in two sizes.",
            "images": img("brass-hanging-diya"), "hsn": "9405", "gstRate": 1200,
            "options": size_finish(&["Small", "Large"], &["Polished", "Antique"]),
            "variants": variants(&[
                ("Small", "Polished", "BHD-S-POL", 79_900, 20, 450, [12, 12, 15]),
                ("Small", "Antique", "BHD-S-ANT", 84_900, 12, 450, [12, 12, 15]),
                ("Large", "Polished", "BHD-L-POL", 129_900, 9, 800, [15, 15, 20]),
                ("Large", "Antique", "BHD-L-ANT", 134_900, 5, 800, [15, 15, 20]),
            ]),
        }),
    ]
}

pub fn demo_coupons() -> Vec<Value> {
    vec![
        // A welcome is once per customer; a cancelled or expired order gives the use back.
        json!({ "code": "WELCOME10", "type": "percent", "value": 10, "maxDiscount": 20_000, "perCustomerLimit": 1 }),
        json!({ "code": "FLAT250", "type": "flat", "value": 25_000, "minOrderValue": 150_000 }),
        json!({ "code": "DIWALI20", "type": "percent", "value": 20, "maxDiscount": 50_000, "usageLimit": 100, "expiresAt": "2030-11-01T00:00:00Z" }),
        json!({ "code": "FIRST1", "type": "flat", "value": 10_000, "usageLimit": 1 }),
        json!({ "code": "OLDFEST", "type": "percent", "value": 15, "expiresAt": "2024-11-01T00:00:00Z" }),
    ]
}

/// Who the seeded products' opening stock entries are attributed to.
const SEED_ACTOR: &str = "seed";

/// Creates whatever demo products and coupons do not exist yet and returns how many of each
/// it created; safe to run any number of times, and it never touches an existing one.
pub async fn run(services: &Services) -> anyhow::Result<(usize, usize)> {
    let db = &services.db;
    let (mut products, mut coupons) = (0, 0);
    for product in demo_products() {
        let input: ProductInput = serde_json::from_value(product)?;
        match catalog::create_product(db, input, SEED_ACTOR).await {
            Ok(_) => products += 1,
            Err(e) if e.code() == "SLUG_TAKEN" => {}
            Err(e) => anyhow::bail!("seed failed: {e}"),
        }
    }
    // Products from before the stock ledger get their opening entry, as in production.
    catalog::open_stock_ledgers(db, SEED_ACTOR).await?;
    for coupon in demo_coupons() {
        let input: CouponInput = serde_json::from_value(coupon)?;
        match coupons::create_coupon(db, input).await {
            Ok(_) => coupons += 1,
            Err(e) if e.code() == "COUPON_CODE_TAKEN" => {}
            Err(e) => anyhow::bail!("seed failed: {e}"),
        }
    }
    Ok((products, coupons))
}
