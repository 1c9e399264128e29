//! A realistic demo catalog and coupons, written through the same `admin-ship` direct
//! invocations an owner would use, so seeding exercises the real validation.

use common::services::Services;
use serde_json::{json, Value};

fn img(slug: &str) -> Vec<String> {
    vec![
        format!("https://images.pitalya.example/products/{slug}/1.jpg"),
        format!("https://images.pitalya.example/products/{slug}/2.jpg"),
    ]
}

pub fn demo_products() -> Vec<Value> {
    // (name, slug, description, price in paise, stock, active)
    let rows: [(&str, &str, &str, i64, i64, bool); 10] = [
        (
            "Brass Diya (Set of 2)",
            "brass-diya-set-of-2",
            "Hand-beaten brass oil lamps from Moradabad.",
            59_900,
            40,
            true,
        ),
        (
            "Kuber Brass Urli",
            "kuber-brass-urli",
            "A wide urli for floating flowers and diyas, 10 inch.",
            249_900,
            12,
            true,
        ),
        (
            "Peacock Brass Lamp",
            "peacock-brass-lamp",
            "Five-wick samai with a peacock crest, 14 inch.",
            389_000,
            6,
            true,
        ),
        (
            "Brass Pooja Thali Set",
            "brass-pooja-thali-set",
            "Thali, kalash, diya, bell and incense stand.",
            129_900,
            25,
            true,
        ),
        (
            "Hammered Brass Tumbler",
            "hammered-brass-tumbler",
            "Tin-lined, 300 ml, for water and buttermilk.",
            79_900,
            60,
            true,
        ),
        (
            "Brass Ganesha Idol",
            "brass-ganesha-idol",
            "Solid cast brass, antique finish, 6 inch.",
            459_900,
            8,
            true,
        ),
        (
            "Temple Bell (Ghanti)",
            "temple-bell-ghanti",
            "Bright-toned hand bell with Nandi handle.",
            89_900,
            0,
            true,
        ),
        (
            "Brass Akhand Diya",
            "brass-akhand-diya",
            "Glass-shielded diya that stays lit for hours.",
            149_900,
            0,
            true,
        ),
        (
            "Brass Kalash with Coconut Stand",
            "brass-kalash-coconut-stand",
            "Traditional kalash for griha pravesh.",
            179_900,
            15,
            true,
        ),
        (
            "Vintage Brass Hookah (discontinued)",
            "vintage-brass-hookah",
            "No longer made.",
            999_900,
            3,
            false,
        ),
    ];
    rows.iter()
        .map(|(name, slug, desc, price, stock, active)| {
            json!({ "name": name, "slug": slug, "description": desc, "price": price, "images": img(slug), "stock": stock, "isActive": active })
        })
        .collect()
}

pub fn demo_coupons() -> Vec<Value> {
    vec![
        json!({ "code": "WELCOME10", "type": "percent", "value": 10, "maxDiscount": 20_000 }),
        json!({ "code": "FLAT250", "type": "flat", "value": 25_000, "minOrderValue": 150_000 }),
        json!({ "code": "DIWALI20", "type": "percent", "value": 20, "maxDiscount": 50_000, "usageLimit": 100, "expiresAt": "2030-11-01T00:00:00Z" }),
        json!({ "code": "FIRST1", "type": "flat", "value": 10_000, "usageLimit": 1 }),
        json!({ "code": "OLDFEST", "type": "percent", "value": 15, "expiresAt": "2024-11-01T00:00:00Z" }),
    ]
}

/// Upserts the demo data; safe to run any number of times (stock is reset to the demo
/// values, coupon usage counts are kept).
pub async fn run(services: &Services) -> anyhow::Result<(usize, usize)> {
    let products = demo_products();
    let coupons = demo_coupons();
    for product in &products {
        check(
            admin_ship::invoke(
                services,
                json!({ "action": "upsertProduct", "product": product }),
            )
            .await,
        )?;
    }
    for coupon in &coupons {
        check(
            admin_ship::invoke(
                services,
                json!({ "action": "upsertCoupon", "coupon": coupon }),
            )
            .await,
        )?;
    }
    Ok((products.len(), coupons.len()))
}

fn check(answer: Value) -> anyhow::Result<()> {
    if answer["ok"] == json!(true) {
        Ok(())
    } else {
        anyhow::bail!("seed failed: {answer}")
    }
}
