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
    rows.iter()
        .map(|(name, slug, desc, price, stock, active, hsn, gst)| {
            json!({ "name": name, "slug": slug, "description": desc, "price": price, "images": img(slug), "stock": stock, "isActive": active, "hsn": hsn, "gstRate": gst })
        })
        .collect()
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
            Err(e) => anyhow::bail!("seed failed: {e:?}"),
        }
    }
    // Products from before the stock ledger get their opening entry, as in production.
    catalog::open_stock_ledgers(db, SEED_ACTOR).await?;
    for coupon in demo_coupons() {
        let input: CouponInput = serde_json::from_value(coupon)?;
        match coupons::create_coupon(db, input).await {
            Ok(_) => coupons += 1,
            Err(e) if e.code() == "COUPON_CODE_TAKEN" => {}
            Err(e) => anyhow::bail!("seed failed: {e:?}"),
        }
    }
    Ok((products, coupons))
}
