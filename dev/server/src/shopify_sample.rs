//! Shopify product exports of any size, written deterministically, for `make bench` and the
//! import's tests: megabytes a generator writes need not be committed.

use std::fmt::Write as _;

/// A legacy-dialect export of `products` products, each of `sizes × finishes × packs`
/// variants (Shopify's three options), named with `prefix` so that each run of a bench
/// imports products the shop does not have yet. Prices, weights and quantities vary by
/// variant; every product has a description and three images.
pub fn products_csv(
    prefix: &str,
    products: usize,
    sizes: usize,
    finishes: usize,
    packs: usize,
) -> String {
    let mut csv = String::from(
        "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Status,Option1 Name,Option1 Value,\
         Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,\
         Variant Inventory Qty,Variant Price,Variant Compare At Price,Image Src,Image Position,\
         Google Shopping / Gender\n",
    );
    let mut n = 0_usize;
    for p in 1..=products {
        let handle = format!("{prefix}brass-lamp-{p}");
        let mut first = true;
        for size in 1..=sizes {
            for finish in 1..=finishes {
                for pack in 1..=packs {
                    n += 1;
                    let product = if first {
                        format!(
                            "{handle},\"Brass Lamp {p}, hand-cast\",\"<p>Lamp {p}, from <b>Moradabad</b>.</p>\",Pitalya,Lamp,\"brass, lamp\",TRUE,active,Size,{size} in,Finish,F{finish},Pack,{pack}"
                        )
                    } else {
                        format!("{handle},,,,,,,,,{size} in,,F{finish},,{pack}")
                    };
                    let image = if first {
                        format!("https://cdn.shopify.com/{handle}-1.jpg,1")
                    } else {
                        ",".to_owned()
                    };
                    writeln!(
                        csv,
                        "{product},{}LAMP-{p:04}-{n:06},{},{},{}.{:02},,{image},",
                        prefix.to_uppercase(),
                        100 * size,
                        n % 50,
                        400 + n % 5000,
                        n % 100,
                    )
                    .unwrap();
                    first = false;
                }
            }
        }
        for i in 2..=3 {
            writeln!(
                csv,
                "{handle},,,,,,,,,,,,,,,,,,,https://cdn.shopify.com/{handle}-{i}.jpg,{i},"
            )
            .unwrap();
        }
    }
    csv
}
