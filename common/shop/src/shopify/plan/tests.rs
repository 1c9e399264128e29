//! The plan against an in-memory store of products, standing in for the database: what a
//! first import creates, and that importing the same file again finds nothing to do.

use super::*;
use crate::shopify::{parse, ImportDefaults};
use crate::tax::{GstRate, Hsn};
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dev/server/tests/fixtures/shopify")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn with_tax() -> ImportDefaults {
    ImportDefaults {
        hsn: Hsn::new("7418"),
        gst_rate: GstRate::from_basis_points(1200),
    }
}

/// The catalog as the import's writes would leave it, by slug.
#[derive(Default)]
struct Store {
    products: HashMap<String, Product>,
    /// Ledger entries written: one per new variant.
    ledger: Vec<(VariantId, i64)>,
}

impl Store {
    fn existing(&self, parsed: &Parsed) -> Existing {
        let handles: HashSet<&str> = parsed.products.iter().map(|p| p.handle.as_str()).collect();
        let mut skus_elsewhere = HashMap::new();
        for p in self.products.values() {
            if handles.contains(p.slug.as_str()) {
                continue;
            }
            for v in p.variants.iter() {
                skus_elsewhere.insert(v.sku.clone(), p.slug.clone());
            }
        }
        Existing {
            products: handles
                .iter()
                .filter_map(|h| self.products.get(*h).cloned())
                .collect(),
            skus_elsewhere,
        }
    }

    fn plan(&self, parsed: &Parsed) -> Plan {
        plan(parsed, &self.existing(parsed), DateTime::now())
    }

    fn apply(&mut self, plan: &Plan) {
        for o in &plan.outcomes {
            match &o.action {
                Some(Action::Create(p)) => {
                    assert!(p.stock.is_none(), "new products store no top-level stock");
                    self.ledger
                        .extend(p.variants.iter().map(|v| (v.id, v.stock)));
                    self.products.insert(p.slug.clone(), (**p).clone());
                }
                Some(Action::Update(u)) => {
                    let stored = self.products.get_mut(&o.handle).unwrap();
                    assert_eq!(stored.updated_at, u.read_at);
                    u.apply_to(stored);
                    stored.updated_at = DateTime::from_millis(u.read_at.timestamp_millis() + 1);
                    self.ledger
                        .extend(u.new_variants.iter().map(|v| (v.id, v.stock)));
                }
                Some(Action::Unchanged) | None => {}
            }
        }
    }

    fn product(&self, slug: &str) -> &Product {
        &self.products[slug]
    }
}

fn parsed(name: &str, defaults: ImportDefaults) -> Parsed {
    parse(&fixture(name), defaults).unwrap()
}

fn warnings(report: &Report) -> Vec<&str> {
    report
        .problems
        .iter()
        .filter(|p| p.level == Level::Warning)
        .map(|p| p.message.as_str())
        .collect()
}

#[test]
fn a_first_import_creates_products_with_their_variants_and_the_same_file_again_changes_nothing() {
    let file = parsed("legacy-export.csv", with_tax());
    let mut store = Store::default();
    let first = store.plan(&file);
    let report = first.report(false);
    assert_eq!(report.products.created, file.products.len() as u64);
    assert_eq!((report.products.updated, report.products.unchanged), (0, 0));
    let variants: usize = file.products.iter().map(|p| p.variants.len()).sum();
    assert_eq!(report.variants.created, variants as u64);
    store.apply(&first);
    assert_eq!(store.ledger.len(), variants);

    let urli = store.product("kuber-brass-urli");
    assert_eq!(urli.options.len(), 2);
    assert_eq!(urli.variants[0].sku, "URLI-08-POL");
    assert_eq!(urli.variants[0].price, Paise(249_900));
    // The lowest price among the variants, beside them.
    assert_eq!(urli.price, Paise(249_900));
    assert!(!urli.description.contains("<script"));
    assert_eq!(store.product("brass-diya-classic").variants[0].sku, "00123");

    let again = store.plan(&file).report(false);
    assert_eq!(
        (again.products.created, again.products.updated),
        (0, 0),
        "{again:#?}"
    );
    assert_eq!(again.products.unchanged, file.products.len() as u64);
    assert_eq!(
        again.variants,
        VariantCounts {
            created: 0,
            updated: 0,
            unchanged: variants as u64
        }
    );
    assert_eq!(again.images, 0);
    // Re-importing writes nothing, so it repeats none of the first import's news about
    // taxes: the stored products keep theirs.
    let ledger = store.ledger.len();
    store.apply(&store.plan(&file));
    assert_eq!(store.ledger.len(), ledger);
}

#[test]
fn an_import_never_changes_an_existing_variants_stock_and_names_both_numbers() {
    let file = parsed("legacy-export.csv", with_tax());
    let mut store = Store::default();
    store.apply(&store.plan(&file));
    // Sold since the export.
    let urli = store.products.get_mut("kuber-brass-urli").unwrap();
    urli.variants[0].stock = 9;
    let plan = store.plan(&file);
    let report = plan.report(false);
    assert_eq!(report.products.updated, 0, "{report:#?}");
    let warning = warnings(&report)
        .into_iter()
        .find(|m| m.contains("in stock"))
        .expect("a warning about stock");
    assert!(
        warning.contains("the shop has 9") && warning.contains("the file says 14"),
        "{warning}"
    );
    store.apply(&plan);
    assert_eq!(store.product("kuber-brass-urli").variants[0].stock, 9);
}

#[test]
fn changed_prices_new_variants_and_option_values_are_an_update_that_keeps_stock() {
    let mut store = Store::default();
    store.apply(&store.plan(&parsed("legacy-export.csv", with_tax())));
    let before = store.product("puja-thali-set").clone();
    let text = String::from_utf8(fixture("legacy-export.csv"))
        .unwrap()
        .replace("1499.00", "1399.00")
        .replace("000450-B,1300,shopify,5", "000450-B,1300,shopify,77");
    // A third size, as a new row of the product after its second.
    let second = text
        .lines()
        .find(|l| l.starts_with("puja-thali-set,,") && l.contains("000450-B"))
        .unwrap()
        .to_owned();
    let third = second
        .replace("000450-B", "000450-C")
        .replace("12 in \"\"large\"\"", "14 in");
    let text = text.replacen(&second, &format!("{second}\n{third}"), 1);
    let file = parse(text.as_bytes(), with_tax()).unwrap();
    let plan = store.plan(&file);
    let report = plan.report(false);
    assert_eq!(report.products.updated, 1, "{report:#?}");
    assert_eq!(report.variants.created, 1, "{:#?}", report.problems);
    store.apply(&plan);
    let after = store.product("puja-thali-set");
    assert_eq!(after.variants.len(), 3);
    assert_eq!(after.variants[0].price, Paise(139_900));
    assert_eq!(after.price, Paise(139_900));
    assert_eq!(after.variants[1].stock, before.variants[1].stock);
    assert_eq!(after.variants[2].sku, "000450-C");
    assert_eq!(
        after.options[0].values.last().map(String::as_str),
        Some("14 in")
    );
    // Planned again on what the update left: nothing more.
    let again = store.plan(&file).report(false);
    assert_eq!(again.products.unchanged, file.products.len() as u64);
}

#[test]
fn a_sku_of_another_product_is_an_error_that_skips_only_its_product() {
    let mut store = Store::default();
    store.apply(&store.plan(&parsed("legacy-export.csv", with_tax())));
    let text = String::from_utf8(fixture("bom-crlf.csv"))
        .unwrap()
        .replace("brass-diya-classic", "brass-diya-new");
    let file = parse(text.as_bytes(), with_tax()).unwrap();
    let report = store.plan(&file).report(true);
    let error = report
        .problems
        .iter()
        .find(|p| p.level == Level::Error)
        .expect("an error");
    assert_eq!(error.handle, "brass-diya-new");
    assert!(error.message.contains("'00123'") && error.message.contains("brass-diya-classic"));
    assert_eq!(report.products.skipped, 1);
    assert!(report.products.unchanged + report.products.updated >= 1);
}

#[test]
fn without_hsn_a_new_product_is_inactive_and_an_existing_one_keeps_its_tax_and_state() {
    let mut store = Store::default();
    let file = parsed("legacy-export.csv", ImportDefaults::default());
    let report = store.plan(&file).report(false);
    assert!(warnings(&report).iter().any(|m| m.contains("HSN")));
    store.apply(&store.plan(&file));
    let urli = store.product("kuber-brass-urli");
    assert!(!urli.is_active && urli.hsn.is_none());

    let mut store = Store::default();
    store.apply(&store.plan(&parsed("legacy-export.csv", with_tax())));
    assert!(store.product("kuber-brass-urli").is_active);
    let report = store.plan(&file).report(false);
    assert!(
        !warnings(&report).iter().any(|m| m.contains("HSN")),
        "{report:#?}"
    );
    assert_eq!(report.products.updated, 0);
}

#[test]
fn a_product_drafted_in_shopify_after_its_import_goes_inactive() {
    let mut store = Store::default();
    store.apply(&store.plan(&parsed("bom-crlf.csv", with_tax())));
    assert!(store.product("brass-diya-classic").is_active);
    let text = String::from_utf8(fixture("bom-crlf.csv"))
        .unwrap()
        .replacen(",active", ",draft", 1);
    let file = parse(text.as_bytes(), with_tax()).unwrap();
    let plan = store.plan(&file);
    assert_eq!(plan.report(false).products.updated, 1);
    store.apply(&plan);
    assert!(!store.product("brass-diya-classic").is_active);
}

#[test]
fn generated_skus_are_catalog_skus() {
    let sku = generated_sku(&"a-".repeat(40), 12);
    assert!(crate::shopify::is_valid_sku(&sku), "{sku}");
    assert!(sku.len() <= 64 && sku.ends_with("-12"));
    assert_eq!(generated_sku("brass-lota", 1), "BRASS-LOTA-1");
}

#[test]
fn the_catalogs_own_rules_skip_a_product_priced_below_a_rupee_and_keep_ten_images() {
    let mut text = String::from_utf8(fixture("bom-crlf.csv"))
        .unwrap()
        .replace("349.00", "0.50");
    for n in 2..=12 {
        text.push_str(&format!(
            "puja-thali-set,,,,,,,,,https://cdn.shopify.com/thali-{n}.jpg,{n},\r\n"
        ));
    }
    let file = parse(text.as_bytes(), with_tax()).unwrap();
    let report = Store::default().plan(&file).report(true);
    let errors: Vec<&RowProblem> = report
        .problems
        .iter()
        .filter(|p| p.level == Level::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].handle, "brass-diya-classic");
    assert_eq!(errors[0].column.as_deref(), Some("Variant Price"));
    assert!(
        errors[0].message.contains("'0.50' is 50 paise"),
        "{}",
        errors[0].message
    );
    assert_eq!((report.products.created, report.products.skipped), (1, 1));
    assert!(warnings(&report)
        .iter()
        .any(|m| m.contains("has 12 images; the shop keeps the first 10")));
    assert_eq!(report.images, 10);
}

#[test]
fn a_made_up_sku_another_product_has_is_an_error() {
    let text = String::from_utf8(fixture("bom-crlf.csv")).unwrap();
    let mut store = Store::default();
    let first = text.replace("00123", "BRASS-DIYA-NEW-1");
    store.apply(&store.plan(&parse(first.as_bytes(), with_tax()).unwrap()));
    let second = text
        .replace("brass-diya-classic,", "brass-diya-new,")
        .replace("00123", "");
    let report = store
        .plan(&parse(second.as_bytes(), with_tax()).unwrap())
        .report(true);
    let error = report
        .problems
        .iter()
        .find(|p| p.level == Level::Error)
        .expect("an error");
    assert_eq!(error.handle, "brass-diya-new");
    assert!(
        error.message.contains("'BRASS-DIYA-NEW-1'"),
        "{}",
        error.message
    );
    assert_eq!(report.products.skipped, 1);
}
