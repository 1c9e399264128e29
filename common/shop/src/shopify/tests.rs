//! The parser against hand-written, real-shaped Shopify exports (the corpus in
//! `dev/server/tests/fixtures/shopify/`, which the import route's tests will share).

use super::*;
use proptest::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dev/server/tests/fixtures/shopify")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(name: &str) -> Parsed {
    parse(&fixture(name), ImportDefaults::default()).unwrap()
}

fn with_tax() -> ImportDefaults {
    ImportDefaults {
        hsn: Hsn::new("7418"),
        gst_rate: GstRate::from_basis_points(1200),
    }
}

fn product<'p>(parsed: &'p Parsed, handle: &str) -> &'p ShopifyProduct {
    parsed
        .products
        .iter()
        .find(|p| p.handle == handle)
        .unwrap_or_else(|| panic!("no product {handle} in {:?}", handles(parsed)))
}

fn handles(parsed: &Parsed) -> Vec<&str> {
    parsed.products.iter().map(|p| p.handle.as_str()).collect()
}

/// (row, handle, column, message) of every problem of one level.
fn problems(parsed: &Parsed, level: Level) -> Vec<(u64, &str, Option<&str>, &str)> {
    parsed
        .problems
        .iter()
        .filter(|p| p.level == level)
        .map(|p| {
            (
                p.row,
                p.handle.as_str(),
                p.column.as_deref(),
                p.message.as_str(),
            )
        })
        .collect()
}

fn skus(p: &ShopifyProduct) -> Vec<&str> {
    p.variants.iter().filter_map(|v| v.sku.as_deref()).collect()
}

/// The product as another file would give it: rows are where a file put it, not what it is.
fn rowless(p: &ShopifyProduct) -> ShopifyProduct {
    let mut p = p.clone();
    p.row = 0;
    for v in &mut p.variants {
        v.row = 0;
    }
    p
}

#[test]
fn legacy_export_gives_products_with_options_variants_and_exact_paise() {
    let parsed = read("legacy-export.csv");
    assert_eq!(parsed.dialect, Dialect::Legacy);
    assert_eq!(
        handles(&parsed),
        [
            "kuber-brass-urli",
            "brass-diya-classic",
            "puja-thali-set",
            "ganesh-idol-small",
            "hanging-bell"
        ]
    );
    assert!(problems(&parsed, Level::Error).is_empty(), "{parsed:#?}");
    let urli = product(&parsed, "kuber-brass-urli");
    assert_eq!(urli.row, 2);
    assert_eq!(urli.title, "Kuber Brass Urli");
    assert_eq!(urli.vendor.as_deref(), Some("Pitalya"));
    assert_eq!(urli.product_type.as_deref(), Some("Urli"));
    assert_eq!(urli.tags, ["brass", "urli", "festive"]);
    assert_eq!(urli.status, Status::Active);
    assert!(urli.published);
    assert_eq!(
        urli.options,
        [
            ShopifyOption {
                name: "Size".into(),
                values: vec!["8 in".into(), "12 in".into()]
            },
            ShopifyOption {
                name: "Finish".into(),
                values: vec!["Polished".into(), "Antique".into()]
            },
        ]
    );
    assert_eq!(
        skus(urli),
        ["URLI-08-POL", "URLI-08-ANT", "URLI-12-POL", "URLI-12-ANT"]
    );
    let prices: Vec<i64> = urli.variants.iter().map(|v| v.price.get()).collect();
    assert_eq!(prices, [249_900, 269_900, 499_950, 529_900]);
    let first = &urli.variants[0];
    assert_eq!(first.title(), "8 in / Polished");
    assert_eq!(first.compare_at_price, Some(Paise(299_900)));
    assert_eq!(first.weight_grams, Some(1200));
    assert_eq!(first.inventory_quantity, Some(14));
    assert_eq!(first.barcode.as_deref(), Some("0890123400017"));
    assert_eq!(
        first.image.as_deref(),
        Some("https://cdn.shopify.com/s/files/1/0612/4471/0231/products/urli-polished.jpg?v=1690000000")
    );
    // A quantity of 0 is a quantity, not a missing one.
    assert_eq!(urli.variants[1].inventory_quantity, Some(0));
    // The quoted description spans lines 2–8, so the second variant's record starts on 9.
    assert_eq!(urli.variants[1].row, 9);
}

#[test]
fn images_keep_image_position_order_and_image_only_rows_add_images() {
    let parsed = read("legacy-export.csv");
    let urli = product(&parsed, "kuber-brass-urli");
    let files: Vec<&str> = urli
        .images
        .iter()
        .map(|i| i.url.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "urli-polished.jpg?v=1690000000",
            "urli-top.jpg?v=1690000000",
            "urli-antique.jpg?v=1690000000",
            "urli-scale.jpg?v=1690000000",
            "urli-diyas.jpg?v=1690000000",
        ]
    );
    assert_eq!(urli.images[1].alt.as_deref(), Some("From above"));
    assert_eq!(urli.images[4].alt, None);
    // The image-only row is neither a variant nor a problem.
    assert_eq!(urli.variants.len(), 4);
    assert!(!parsed.problems.iter().any(|p| p.row == 12));
}

#[test]
fn a_product_with_only_default_title_has_no_options_and_one_variant() {
    let parsed = read("legacy-export.csv");
    let diya = product(&parsed, "brass-diya-classic");
    assert!(diya.options.is_empty());
    assert_eq!(diya.variants.len(), 1);
    assert!(diya.variants[0].option_values.is_empty());
    assert_eq!(diya.variants[0].title(), "Default");
    // Legacy exports write whole grams as `180.0`.
    assert_eq!(diya.variants[0].weight_grams, Some(180));
}

#[test]
fn numeric_looking_skus_and_barcodes_keep_their_leading_zeros() {
    let parsed = read("legacy-export.csv");
    let diya = product(&parsed, "brass-diya-classic");
    assert_eq!(diya.variants[0].sku.as_deref(), Some("00123"));
    assert_eq!(diya.variants[0].barcode.as_deref(), Some("0000123456789"));
    assert_eq!(
        skus(product(&parsed, "puja-thali-set")),
        ["000450-A", "000450-B"]
    );
}

#[test]
fn quoted_titles_and_values_keep_their_commas_and_double_quotes() {
    let parsed = read("legacy-export.csv");
    let thali = product(&parsed, "puja-thali-set");
    assert_eq!(thali.title, "Puja Thali Set, 7 pieces — \"Shubh\" edition");
    assert_eq!(thali.options[0].values, ["10 in, small", "12 in \"large\""]);
    assert_eq!(thali.images[0].alt.as_deref(), Some("Thali, \"Shubh\""));
    assert_eq!(
        product(&parsed, "brass-diya-classic").title,
        "Brass Diya, Classic"
    );
}

#[test]
fn descriptions_keep_only_paragraphs_breaks_lists_bold_italic_and_http_links() {
    let parsed = read("legacy-export.csv");
    let html = &product(&parsed, "kuber-brass-urli").description_html;
    for kept in [
        "<p>Hand-cast <strong>Kuber urli</strong> from Moradabad",
        "<li>Polish with <em>tamarind</em> &amp; lemon</li>",
        "<ul>",
        "<a href=\"https://pitalya.in/care\" rel=\"noopener noreferrer nofollow\">care guide</a>",
        "<br>",
        "Care",
    ] {
        assert!(html.contains(kept), "{kept} missing from {html}");
    }
    for dropped in [
        "<script",
        "alert",
        "<h2",
        "style",
        "<div",
        "<span",
        "class",
        "onclick",
        "target",
        "javascript",
        "<img",
        "onerror",
    ] {
        assert!(!html.contains(dropped), "{dropped} left in {html}");
    }
    assert_eq!(
        sanitise_description("<p>a<br/>b</p><ol><li><b>x</b> <i>y</i></li></ol><a href=\"/rel\">r</a><a href=\"mailto:a@b.in\">m</a>"),
        "<p>a<br>b</p><ol><li><b>x</b> <i>y</i></li></ol><a rel=\"noopener noreferrer nofollow\">r</a><a rel=\"noopener noreferrer nofollow\">m</a>"
    );
}

#[test]
fn draft_archived_and_unpublished_products_import_inactive_with_a_warning() {
    let parsed = parse(&fixture("legacy-export.csv"), with_tax()).unwrap();
    let draft = product(&parsed, "ganesh-idol-small");
    assert_eq!(draft.status, Status::Draft);
    assert!(!draft.is_active);
    let bell = product(&parsed, "hanging-bell");
    assert_eq!(bell.status, Status::Archived);
    assert!(!bell.published);
    assert!(!bell.is_active);
    let warnings = problems(&parsed, Level::Warning);
    let about = |handle: &str, column: &str| {
        warnings
            .iter()
            .find(|w| w.1 == handle && w.2 == Some(column))
            .map(|w| w.3)
            .unwrap_or_else(|| panic!("no warning on {handle} {column}: {warnings:?}"))
    };
    assert_eq!(
        about("ganesh-idol-small", "Status"),
        "draft in Shopify: imported inactive"
    );
    assert_eq!(
        about("hanging-bell", "Status"),
        "archived in Shopify: imported inactive"
    );
    assert!(about("hanging-bell", "Published").contains("imported inactive"));
    assert!(product(&parsed, "kuber-brass-urli").is_active);
}

#[test]
fn without_hsn_defaults_products_import_inactive_with_a_warning() {
    let parsed = read("legacy-export.csv");
    let urli = product(&parsed, "kuber-brass-urli");
    assert!(!urli.is_active);
    assert_eq!(urli.hsn, None);
    let hsn: Vec<_> = problems(&parsed, Level::Warning)
        .into_iter()
        .filter(|w| w.3.contains("HSN"))
        .collect();
    assert_eq!(hsn.len(), 5, "one per product: {hsn:?}");
    assert_eq!(hsn[0].0, 2);
    assert_eq!(hsn[0].2, None);

    let taxed = parse(&fixture("legacy-export.csv"), with_tax()).unwrap();
    let urli = product(&taxed, "kuber-brass-urli");
    assert!(urli.is_active);
    assert_eq!(urli.hsn.as_ref().map(Hsn::as_str), Some("7418"));
    assert_eq!(urli.gst_rate.map(GstRate::basis_points), Some(1200));
    assert!(!taxed.problems.iter().any(|p| p.message.contains("HSN")));

    // A code without a rate is still not enough to sell.
    let half = ImportDefaults {
        gst_rate: None,
        ..with_tax()
    };
    let parsed = parse(&fixture("legacy-export.csv"), half).unwrap();
    assert!(!product(&parsed, "kuber-brass-urli").is_active);
    assert!(parsed
        .problems
        .iter()
        .any(|p| p.message.contains("a GST rate")));
}

#[test]
fn a_missing_weight_and_a_negative_quantity_are_warnings_naming_the_column() {
    let parsed = read("legacy-export.csv");
    let bell = product(&parsed, "hanging-bell");
    assert_eq!(bell.variants[0].weight_grams, None);
    assert_eq!(bell.variants[0].inventory_quantity, Some(0));
    let warnings = problems(&parsed, Level::Warning);
    let row = bell.row;
    assert!(warnings
        .iter()
        .any(|w| w.0 == row && w.2 == Some("Variant Grams") && w.3.contains("couriers")));
    assert!(warnings
        .iter()
        .any(|w| w.0 == row && w.2 == Some("Variant Inventory Qty") && w.3.contains("'-2'")));
}

#[test]
fn unknown_columns_are_listed_as_ignored_and_never_fail_the_file() {
    let parsed = read("legacy-export.csv");
    for column in [
        "Google Shopping / Gender",
        "Material (product.metafields.custom.material)",
        "Price / India",
        "Compare At Price / India",
        "Included / India",
        "Variant Inventory Policy",
        "SEO Title",
        "Cost per item",
    ] {
        assert!(
            parsed.ignored_columns.iter().any(|c| c == column),
            "{column} not in {:?}",
            parsed.ignored_columns
        );
    }
    assert!(!parsed.ignored_columns.iter().any(|c| c == "Variant SKU"));
    let current = read("current-template.csv");
    assert!(current
        .ignored_columns
        .iter()
        .any(|c| c == "Price / International"));
    assert!(!current.ignored_columns.iter().any(|c| c == "Price"));
}

#[test]
fn current_template_reads_a_three_option_product_and_the_same_product_as_legacy() {
    let current = read("current-template.csv");
    assert_eq!(current.dialect, Dialect::Current);
    assert!(problems(&current, Level::Error).is_empty(), "{current:#?}");
    let akhand = product(&current, "akhand-diya");
    let names: Vec<&str> = akhand.options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["Size", "Finish", "Pack"]);
    assert_eq!(akhand.options[2].values, ["1", "2"]);
    assert_eq!(akhand.variants.len(), 8);
    assert_eq!(akhand.variants[7].title(), "Large / Antique / 2");
    assert_eq!(akhand.variants[7].price, Paise(119_900));
    assert_eq!(akhand.variants[7].weight_grams, Some(550));
    assert_eq!(akhand.description_html, "<p>Burns through the night.</p>");

    let legacy = read("legacy-export.csv");
    assert_eq!(
        rowless(product(&current, "brass-diya-classic")),
        rowless(product(&legacy, "brass-diya-classic"))
    );
    // Problems name columns as the file spells them.
    assert!(current
        .problems
        .iter()
        .all(|p| p.column.as_deref() != Some("Variant SKU")));
}

#[test]
fn a_bom_crlf_and_padded_mixed_case_headers_read_like_a_plain_file() {
    let bytes = fixture("bom-crlf.csv");
    assert!(bytes.starts_with(b"\xef\xbb\xbf"));
    assert!(bytes.windows(2).any(|w| w == b"\r\n"));
    let parsed = parse(&bytes, ImportDefaults::default()).unwrap();
    assert!(problems(&parsed, Level::Error).is_empty(), "{parsed:#?}");
    assert!(
        parsed.ignored_columns.is_empty(),
        "{:?}",
        parsed.ignored_columns
    );
    let legacy = read("legacy-export.csv");
    for handle in ["brass-diya-classic", "puja-thali-set"] {
        let (here, there) = (product(&parsed, handle), product(&legacy, handle));
        assert_eq!(here.title, there.title);
        assert_eq!(here.options, there.options);
        let variants = |p: &ShopifyProduct| -> Vec<_> {
            p.variants
                .iter()
                .map(|v| (v.sku.clone(), v.price, v.weight_grams, v.inventory_quantity))
                .collect()
        };
        assert_eq!(variants(here), variants(there));
        // Status is the last column: a carriage return left on it would make it unknown.
        assert_eq!(here.status, Status::Active);
    }
}

#[test]
fn a_variant_row_without_a_value_for_each_option_excludes_only_its_product() {
    let parsed = read("variant-without-option-value.csv");
    assert_eq!(
        problems(&parsed, Level::Error),
        [(
            3,
            "kuber-brass-urli",
            Some("Option2 Value"),
            "is empty: every variant needs a value for 'Finish'"
        )]
    );
    assert_eq!(handles(&parsed), ["brass-diya-classic"]);
}

#[test]
fn a_price_with_three_decimals_is_an_error_naming_row_and_column() {
    let parsed = read("price-three-decimals.csv");
    assert_eq!(
        problems(&parsed, Level::Error),
        [(
            3,
            "kuber-brass-urli",
            Some("Variant Price"),
            "'4999.999' has more than two decimals (paise are the smallest unit)"
        )]
    );
    assert_eq!(handles(&parsed), ["brass-diya-classic"]);
}

#[test]
fn a_sku_twice_in_one_file_is_an_error_on_its_second_row() {
    let parsed = read("duplicate-skus.csv");
    assert_eq!(
        problems(&parsed, Level::Error),
        [(
            3,
            "kuber-brass-urli",
            Some("Variant SKU"),
            "'00123' is also the SKU on row 2"
        )]
    );
    assert_eq!(handles(&parsed), ["brass-diya-classic"]);
}

#[test]
fn an_option_combination_twice_is_an_error() {
    let parsed = read("duplicate-option-combination.csv");
    let errors = problems(&parsed, Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 3);
    assert_eq!(errors[0].2, None);
    assert!(
        errors[0].3.contains("row 2 (8 in / Polished)"),
        "{}",
        errors[0].3
    );
    assert_eq!(handles(&parsed), ["brass-diya-classic"]);
}

#[test]
fn more_than_three_options_is_an_error() {
    let parsed = read("four-options.csv");
    let errors = problems(&parsed, Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, 2);
    assert_eq!(errors[0].2, Some("Option4 Name"));
    assert!(errors[0].3.contains("4 options"), "{}", errors[0].3);
    assert_eq!(handles(&parsed), ["brass-diya-classic"]);
}

#[test]
fn negative_or_unreadable_prices_and_fractional_quantities_or_grams_are_errors() {
    let parsed = read("bad-numbers.csv");
    assert_eq!(
        problems(&parsed, Level::Error),
        [
            (
                2,
                "negative-price",
                Some("Variant Price"),
                "'-10.00' must not be negative"
            ),
            (
                3,
                "rupee-sign",
                Some("Variant Price"),
                "'₹1,299' must be rupees like 1299.00"
            ),
            (
                4,
                "half-a-piece",
                Some("Variant Inventory Qty"),
                "'12.5' must be a whole number"
            ),
            (
                5,
                "grams-in-kilos",
                Some("Variant Grams"),
                "'1.2' must be whole grams"
            ),
        ]
    );
    assert_eq!(handles(&parsed), ["brass-diya-classic"]);
}

#[test]
fn a_file_without_handle_or_title_is_not_a_shopify_product_csv() {
    let missing = |name: &str| match parse(&fixture(name), ImportDefaults::default()) {
        Err(FileProblem::MissingColumns { missing }) => missing,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(missing("missing-handle.csv"), ["Handle (or URL handle)"]);
    assert_eq!(missing("missing-title.csv"), ["Title"]);
    assert_eq!(
        missing("orders-export.csv"),
        ["Handle (or URL handle)", "Title"]
    );
    let problem = parse(&fixture("orders-export.csv"), ImportDefaults::default()).unwrap_err();
    assert_eq!(
        problem.to_string(),
        "not a Shopify product CSV: it has no Handle (or URL handle) column and no Title column"
    );
    let errors = problem.field_errors();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[1].field, "body");
    assert_eq!(
        errors[1].message,
        "not a Shopify product CSV: no Title column"
    );
}

#[test]
fn binary_and_utf16_files_are_refused_as_not_utf8_text() {
    assert_eq!(
        parse(&fixture("not-csv.png"), ImportDefaults::default()),
        Err(FileProblem::NotUtf8 { line: 1 })
    );
    assert_eq!(
        parse(&fixture("utf16.csv"), ImportDefaults::default()),
        Err(FileProblem::NotUtf8 { line: 1 })
    );
    // UTF-16 without its byte-order mark is valid UTF-8, full of NULs.
    let utf16: Vec<u8> = "Handle,Title\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(matches!(
        parse(&utf16, ImportDefaults::default()),
        Err(FileProblem::NotCsv { .. })
    ));
    let mut late = b"Handle,Title\nbrass-diya,Diya\n".to_vec();
    late.extend_from_slice(b"brass-urli,Urli \xff\n");
    assert_eq!(
        parse(&late, ImportDefaults::default()),
        Err(FileProblem::NotUtf8 { line: 3 })
    );
}

#[test]
fn an_empty_file_and_a_bare_bom_are_empty() {
    for bytes in [&b""[..], b"\xef\xbb\xbf", b"\n\n"] {
        assert_eq!(
            parse(bytes, ImportDefaults::default()),
            Err(FileProblem::Empty),
            "{bytes:?}"
        );
    }
}

#[test]
fn a_file_over_5_mb_is_refused_before_it_is_read() {
    let mut big = b"Handle,Title\n".to_vec();
    big.resize(MAX_FILE_BYTES + 1, b'a');
    assert_eq!(
        parse(&big, ImportDefaults::default()),
        Err(FileProblem::TooLarge {
            bytes: MAX_FILE_BYTES + 1
        })
    );
}

#[test]
fn a_ragged_row_is_an_error_for_its_product_only() {
    let csv = "Handle,Title,Variant SKU,Variant Price\n\
               brass-diya,Diya,D-1,100.00\n\
               brass-urli,Urli,100.00\n\
               ,,,\n";
    let parsed = parse(csv.as_bytes(), ImportDefaults::default()).unwrap();
    assert_eq!(
        problems(&parsed, Level::Error),
        [(
            3,
            "brass-urli",
            None,
            "has 3 cells where the header has 4 columns"
        )]
    );
    assert_eq!(handles(&parsed), ["brass-diya"]);
}

/// One product of 10 × 10 × 20 = 2,000 variants, as Shopify (up to 2,048) exports it.
fn two_thousand_variants() -> String {
    let mut csv = String::from(
        "Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,\
         Option3 Value,Variant SKU,Variant Grams,Variant Inventory Qty,Variant Price,\
         Image Src,Image Position\n",
    );
    let mut n = 0;
    for size in 1..=10 {
        for finish in 1..=10 {
            for pack in 1..=20 {
                n += 1;
                let (title, names) = if n == 1 {
                    ("Brass Lamp Collection", ["Size", "Finish", "Pack"])
                } else {
                    ("", ["", "", ""])
                };
                writeln!(
                    csv,
                    "brass-lamp-collection,{title},{},{size} in,{},F{finish},{},{pack},\
                     LAMP-{n:05},{},{},{}.{:02},https://cdn.shopify.com/lamp-{n}.jpg,{n}",
                    names[0],
                    names[1],
                    names[2],
                    100 * size,
                    n % 7,
                    500 + n,
                    n % 100
                )
                .unwrap();
            }
        }
    }
    csv
}

#[test]
fn a_two_thousand_variant_product_parses_whole() {
    let csv = two_thousand_variants();
    assert!(csv.len() < MAX_FILE_BYTES);
    let parsed = parse(csv.as_bytes(), with_tax()).unwrap();
    assert!(parsed.problems.is_empty(), "{:?}", &parsed.problems[..3]);
    let lamp = product(&parsed, "brass-lamp-collection");
    assert_eq!(lamp.variants.len(), 2000);
    let counts: Vec<usize> = lamp.options.iter().map(|o| o.values.len()).collect();
    assert_eq!(counts, [10, 10, 20]);
    assert_eq!(lamp.images.len(), 2000);
    let last = &lamp.variants[1999];
    assert_eq!(last.sku.as_deref(), Some("LAMP-02000"));
    assert_eq!(last.title(), "10 in / F10 / 20");
    assert_eq!(last.price, Paise(250_000));
    assert_eq!(last.row, 2001);
}

#[test]
fn rupee_decimals_become_exact_paise() {
    for (raw, paise) in [
        ("1299", 129_900),
        ("1299.5", 129_950),
        ("1299.05", 129_905),
        ("0.01", 1),
        ("007.00", 700),
        (" 12.30 ", 1230),
        ("100000000.00", MAX_PAISE),
    ] {
        assert_eq!(parse_rupees(raw), Ok(Paise(paise)), "{raw}");
    }
    for (raw, e) in [
        ("1299.999", RupeesError::TooManyDecimals),
        ("0.001", RupeesError::TooManyDecimals),
        ("-1", RupeesError::Negative),
        ("-1.999", RupeesError::Negative),
        ("1,299.00", RupeesError::NotANumber),
        ("₹1299", RupeesError::NotANumber),
        ("1e3", RupeesError::NotANumber),
        ("+5", RupeesError::NotANumber),
        ("", RupeesError::NotANumber),
        (".", RupeesError::NotANumber),
        ("12.", RupeesError::NotANumber),
        (".5", RupeesError::NotANumber),
        ("--1", RupeesError::NotANumber),
        ("100000000.01", RupeesError::TooLarge),
        ("99999999999999999999999", RupeesError::TooLarge),
    ] {
        assert_eq!(parse_rupees(raw), Err(e), "{raw}");
    }
    assert_eq!(format_rupees(Paise(129_905)), "1299.05");
    assert_eq!(format_rupees(Paise(5)), "0.05");
}

#[test]
fn problems_serialise_as_the_import_answer_lists_them() {
    let parsed = read("duplicate-skus.csv");
    let error = parsed
        .problems
        .iter()
        .find(|p| p.level == Level::Error)
        .unwrap();
    assert_eq!(
        serde_json::to_value(error).unwrap(),
        serde_json::json!({
            "row": 3,
            "handle": "kuber-brass-urli",
            "column": "Variant SKU",
            "level": "error",
            "message": "'00123' is also the SKU on row 2"
        })
    );
    let no_column = parsed.problems.iter().find(|p| p.column.is_none()).unwrap();
    assert!(serde_json::to_value(no_column)
        .unwrap()
        .get("column")
        .is_none());
}

proptest! {
    #[test]
    fn paise_survive_the_trip_through_rupee_text(p in 0..=MAX_PAISE) {
        prop_assert_eq!(parse_rupees(&format_rupees(Paise(p))), Ok(Paise(p)));
    }

    #[test]
    fn rupees_with_up_to_two_decimals_are_whole_rupees_and_paise(
        rupees in 0..=99_999_999_i64,
        paise in 0..100_i64,
        two_digits in any::<bool>(),
    ) {
        let (text, expected) = if two_digits {
            (format!("{rupees}.{paise:02}"), rupees * 100 + paise)
        } else {
            (format!("{rupees}.{}", paise / 10), rupees * 100 + paise / 10 * 10)
        };
        prop_assert_eq!(parse_rupees(&text), Ok(Paise(expected)));
    }

    #[test]
    fn a_third_decimal_is_always_refused(rupees in 0..=99_999_999_i64, milli in 0..1000_i64) {
        prop_assert_eq!(
            parse_rupees(&format!("{rupees}.{milli:03}")),
            Err(RupeesError::TooManyDecimals)
        );
    }
}

#[test]
fn a_bad_handle_an_empty_title_and_a_value_for_an_unnamed_option_are_errors() {
    let csv = "Handle,Title,Option1 Name,Option1 Value,Option2 Value,Variant SKU,Variant Price\n\
               Brass Diya,Diya,Title,Default Title,,D-1,100.00\n\
               brass-urli,,Title,Default Title,,U-1,100.00\n\
               brass-lamp,Lamp,Size,8 in,Antique,L-1,100.00\n\
               brass-bell,Bell,Title,Default Title,,B-1,100.00\n";
    let parsed = parse(csv.as_bytes(), ImportDefaults::default()).unwrap();
    let errors = problems(&parsed, Level::Error);
    let at: Vec<_> = errors.iter().map(|e| (e.0, e.1, e.2)).collect();
    assert_eq!(
        at,
        [
            (2, "Brass Diya", Some("Handle")),
            (3, "brass-urli", Some("Title")),
            (4, "brass-lamp", Some("Option2 Value")),
        ],
        "{errors:?}"
    );
    assert_eq!(handles(&parsed), ["brass-bell"]);
}

#[test]
fn rows_of_one_handle_group_even_when_apart_and_odd_cells_are_warnings() {
    let csv = "Handle,Title,Status,Option1 Name,Option1 Value,Variant SKU,Variant Price,\
               Variant Compare At Price,Image Src,Image Position\n\
               brass-urli,Urli,Paused,Size,8 in,,2499.00,2499.00,ftp://x/urli.jpg,1\n\
               brass-bell,Bell,active,Title,Default Title,B-1,100.00,,,\n\
               brass-urli,,,,12 in,U-12,4999.00,,https://cdn.shopify.com/u.jpg,first\n";
    let parsed = parse(csv.as_bytes(), ImportDefaults::default()).unwrap();
    assert!(problems(&parsed, Level::Error).is_empty(), "{parsed:#?}");
    let urli = product(&parsed, "brass-urli");
    assert_eq!(urli.options[0].values, ["8 in", "12 in"]);
    assert_eq!(urli.variants[0].sku, None);
    assert_eq!(urli.variants[0].compare_at_price, None);
    assert_eq!(urli.status, Status::Draft);
    assert_eq!(urli.images.len(), 1);
    let warned: Vec<_> = problems(&parsed, Level::Warning)
        .into_iter()
        .filter(|w| w.1 == "brass-urli" && !w.3.contains("HSN"))
        .map(|w| (w.0, w.2))
        .collect();
    assert_eq!(
        warned,
        [
            (2, Some("Status")),
            (2, Some("Variant SKU")),
            (2, Some("Variant Compare At Price")),
            (2, Some("Variant Grams")),
            (2, Some("Image Src")),
            (2, Some("Status")),
            (4, Some("Variant Grams")),
            (4, Some("Image Position")),
        ]
    );
}

#[test]
fn more_than_fifty_values_of_one_option_is_an_error() {
    let mut csv = String::from("Handle,Title,Option1 Name,Option1 Value,Variant Price\n");
    for n in 1..=51 {
        let (title, name) = if n == 1 { ("Diya", "Size") } else { ("", "") };
        writeln!(csv, "brass-diya,{title},{name},{n} in,100.00").unwrap();
    }
    let parsed = parse(csv.as_bytes(), ImportDefaults::default()).unwrap();
    let errors = problems(&parsed, Level::Error);
    assert_eq!(
        errors,
        [(
            52,
            "brass-diya",
            Some("Option1 Value"),
            "'Size' has more than 50 values"
        )]
    );
}

#[test]
fn rows_are_the_lines_a_text_editor_shows_whatever_the_line_endings() {
    let rows = |parsed: &Parsed| -> Vec<(String, u64)> {
        parsed
            .products
            .iter()
            .flat_map(|p| p.variants.iter().map(|v| (p.handle.clone(), v.row)))
            .collect()
    };
    let crlf = parse(&fixture("bom-crlf.csv"), ImportDefaults::default()).unwrap();
    let text = String::from_utf8(fixture("bom-crlf.csv")).unwrap();
    let lf = parse(
        text.replace("\r\n", "\n").as_bytes(),
        ImportDefaults::default(),
    )
    .unwrap();
    let expected: Vec<(String, u64)> = [
        ("brass-diya-classic", 2),
        ("puja-thali-set", 3),
        ("puja-thali-set", 5),
    ]
    .iter()
    .map(|(h, r)| (h.to_string(), *r))
    .collect();
    assert_eq!(rows(&lf), expected);
    assert_eq!(rows(&crlf), expected);
    // Blank lines (which the reader skips) still count.
    let blank = text.replacen("\r\nbrass-diya", "\r\n\r\n\r\nbrass-diya", 1);
    let blank = parse(blank.as_bytes(), ImportDefaults::default()).unwrap();
    assert_eq!(rows(&blank)[0], ("brass-diya-classic".to_owned(), 4));
}
