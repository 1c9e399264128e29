//! The rules of ARCHITECTURE.md that the compiler cannot check, checked on the source and the
//! manifests: the layers' direction, and one writer of each state.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Rust source of the functions and the shared crate, with its path from the repo root.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = LAYERS
        .iter()
        .map(|layer| repo().join("common").join(layer).join("src"))
        .collect();
    for f in fs::read_dir(repo().join("functions")).unwrap() {
        dirs.push(f.unwrap().path().join("src"));
    }
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path
                    .strip_prefix(repo())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    assert!(out.len() > 20, "found the sources");
    out
}

/// Code without its comments, so a comment naming a field is not a write of it.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How an order status value looks in code, without spaces.
const ORDER_STATUS_VALUES: &[&str] = &[
    "OrderStatus::",
    "\"created\"",
    "\"payment_pending\"",
    "\"paid\"",
    "\"packed\"",
    "\"shipped\"",
    "\"delivered\"",
    "\"cancelled\"",
];

#[test]
fn order_statuses_are_written_only_by_orders_change_in() {
    let writer = "common/shop/src/orders.rs";
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if path == writer {
            continue;
        }
        let squashed: String = code(&text).split_whitespace().collect();
        if squashed.contains("\"statusHistory\"") {
            offenders.push(format!("{path}: writes statusHistory"));
        }
        // Other collections have a `status` too (the mail outbox): only an order status
        // value being set counts.
        for set in [
            "\"$set\":{\"status\":",
            "\"$set\":doc!{\"status\":",
            "insert(\"status\",",
        ] {
            for value in ORDER_STATUS_VALUES {
                let needle = format!("{set}{value}");
                if squashed.contains(&needle) {
                    offenders.push(format!("{path}: {needle}"));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "order status changes must go through common::shop::orders::change_in: {offenders:#?}"
    );
}

/// The layers, each a crate under `common/`, lowest first.
const LAYERS: [&str; 3] = ["platform", "integrations", "shop"];

/// The workspace crates a manifest depends on (normal dependencies only).
fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let text = fs::read_to_string(repo().join(manifest)).unwrap();
    let deps = text
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    let ours = ["common", "platform", "integrations", "shop"];
    deps.lines()
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .filter(|name| ours.contains(name))
        .map(str::to_owned)
        .collect()
}

/// The direction of the layers is Cargo's to enforce: a crate cannot name one it does not
/// depend on. This holds the manifests to the direction, so that nobody "fixes" a compile error
/// by adding the dependency that would point a layer the wrong way.
#[test]
fn layers_depend_only_downwards_and_functions_only_on_common() {
    assert_eq!(
        workspace_dependencies("common/platform/Cargo.toml"),
        Vec::<String>::new()
    );
    assert_eq!(
        workspace_dependencies("common/integrations/Cargo.toml"),
        ["platform"]
    );
    assert_eq!(
        workspace_dependencies("common/shop/Cargo.toml"),
        ["platform", "integrations"]
    );
    for f in fs::read_dir(repo().join("functions")).unwrap() {
        let dir = f.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = format!("functions/{name}/Cargo.toml");
        assert_eq!(workspace_dependencies(&manifest), ["common"], "{manifest}");
    }
}

/// The code of a file, comments removed, for the source rules below.
fn code_of(path: &str) -> String {
    code(&fs::read_to_string(repo().join(path)).unwrap())
}

/// Whether code names `module` of the crate (`crate::orders::…` or `use crate::orders;`).
fn names(code: &str, module: &str) -> bool {
    code.contains(&format!("crate::{module}::")) || code.contains(&format!("crate::{module};"))
}

/// `error` renders problem documents with the request id and `http` turns errors into
/// responses: the id lives in `request_id`, so only `http` imports `error`, not the reverse.
#[test]
fn error_does_not_import_http() {
    let text = code_of("common/platform/src/error.rs");
    assert!(!names(&text, "http"), "error imports http again");
}

/// Every `ProblemCode::Variant` the sources name.
fn codes_named_in(text: &str) -> Vec<String> {
    text.split("ProblemCode::")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|name| name.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect()
}

/// Errors take a `ProblemCode`, so no code can be sent that the enum lacks. What the compiler
/// cannot see is `ProblemCode::ALL`, the list `openapi.yaml` is held to: every variant the
/// sources use must be in it, and it must be exactly the spec's enum.
#[test]
fn every_problem_code_is_in_the_one_enum_and_in_openapi() {
    use common::platform::problem_codes::ProblemCode;
    let known: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    let listed: Vec<String> = ProblemCode::ALL.iter().map(|c| format!("{c:?}")).collect();
    let mut used = Vec::new();
    for (path, text) in sources() {
        for name in codes_named_in(&code(&text)) {
            if name != "ALL" {
                used.push((path.clone(), name));
            }
        }
    }
    assert!(used.len() > 40, "found the codes in use: {}", used.len());
    let unlisted: Vec<String> = used
        .iter()
        .filter(|(_, name)| !listed.contains(name))
        .map(|(path, name)| format!("{path}: {name}"))
        .collect();
    assert!(
        unlisted.is_empty(),
        "add these to ProblemCode::ALL (and so to openapi.yaml): {unlisted:#?}"
    );

    let spec = fs::read_to_string(repo().join("openapi.yaml")).unwrap();
    let start = spec
        .find("    ProblemCode:")
        .expect("openapi.yaml has ProblemCode");
    let mut documented: Vec<&str> = spec[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .filter_map(|l| l.trim().strip_prefix("- "))
        .collect();
    documented.sort_unstable();
    let mut enumerated = known.clone();
    enumerated.sort_unstable();
    assert_eq!(
        documented, enumerated,
        "openapi.yaml's ProblemCode enum and common::platform::problem_codes::ProblemCode differ"
    );
}

/// Where prose pairs a status with a code, before it (`409 INSUFFICIENT_STOCK`,
/// `` `404 ORDER_NOT_FOUND` ``) or after it (`` `UNAUTHENTICATED` (401) ``): the status and
/// the code.
fn statuses_paired_with_codes<'t>(text: &'t str, codes: &[&'t str]) -> Vec<(u16, &'t str)> {
    let mut pairs = Vec::new();
    for &c in codes {
        for (at, _) in text.match_indices(c) {
            let rest = &text[at + c.len()..];
            let in_word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
            if rest.starts_with(in_word) || text[..at].ends_with(in_word) {
                continue; // part of a longer code (`PRODUCT_UNAVAILABLE` for `UNAVAILABLE`)
            }
            let after = rest.trim_start_matches('`').strip_prefix(" (");
            if let Some(status) = after.and_then(|a| a.get(..3)?.parse::<u16>().ok()) {
                pairs.push((status, c));
            }
            let before = text[..at].trim_end_matches('`');
            let Some(before) = before.strip_suffix(' ') else {
                continue;
            };
            let digits = before.len().saturating_sub(3);
            if !before.is_char_boundary(digits) {
                continue;
            }
            let word_start = !before[..digits].ends_with(|ch: char| ch.is_ascii_alphanumeric());
            if let Ok(status) = before[digits..].parse::<u16>() {
                if word_start && (100..600).contains(&status) {
                    pairs.push((status, c));
                }
            }
        }
    }
    pairs
}

/// The status of a code is a row of the one table, never the caller's choice: the spec's
/// `x-status` list is that table, and wherever the spec or the docs pair a status with a code
/// in prose, it is the table's.
#[test]
fn each_problem_code_has_the_one_status_of_its_table_in_the_spec_and_the_docs() {
    use common::platform::problem_codes::ProblemCode;
    let table: Vec<(&str, u16)> = ProblemCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.status().as_u16()))
        .collect();
    let spec = fs::read_to_string(repo().join("openapi.yaml")).unwrap();
    let start = spec
        .find("      x-status:\n")
        .expect("openapi.yaml's ProblemCode has x-status");
    let mut listed: Vec<(String, u16)> = spec[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("        "))
        .map(|l| {
            let (code, status) = l.trim().split_once(": ").expect("CODE: status");
            (code.to_owned(), status.parse().expect("a status"))
        })
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<(String, u16)> = table.iter().map(|(c, s)| (c.to_string(), *s)).collect();
    expected.sort_unstable();
    if listed != expected {
        let wanted: String = expected
            .iter()
            .map(|(c, s)| format!("        {c}: {s}\n"))
            .collect();
        panic!(
            "openapi.yaml's ProblemCode x-status differs from the table; it should read:\n{wanted}"
        );
    }

    let codes: Vec<&str> = table.iter().map(|(c, _)| *c).collect();
    let mut texts = vec![("openapi.yaml".to_owned(), spec.clone())];
    for doc in ["README.md", "ARCHITECTURE.md"] {
        texts.push((doc.into(), fs::read_to_string(repo().join(doc)).unwrap()));
    }
    for e in fs::read_dir(repo().join("docs")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            texts.push((format!("docs/{name}"), fs::read_to_string(&path).unwrap()));
        }
    }
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (path, text) in &texts {
        for (status, code) in statuses_paired_with_codes(text, &codes) {
            checked += 1;
            let want = table.iter().find(|(c, _)| *c == code).unwrap().1;
            if status != want {
                wrong.push(format!("{path}: {status} {code}, but {code} is {want}"));
            }
        }
    }
    assert!(
        checked > 100,
        "found the statuses paired with codes: {checked}"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn product_stock_and_refund_ids_each_have_one_writer() {
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        let squashed: String = code(&text).split_whitespace().collect();
        // Stock moves only with its ledger entry, in `catalog::move_stock_in`.
        if path != "common/shop/src/catalog.rs" && squashed.contains("\"$inc\":{\"stock\"") {
            offenders.push(format!(
                "{path}: changes stock outside common::shop::catalog"
            ));
        }
        // A refund's id is fixed by `refunds` when the refund is recorded, and only there.
        if path != "common/shop/src/refunds.rs"
            && squashed.contains("\"refunds.$.merchantRefundId\"")
        {
            offenders.push(format!(
                "{path}: writes a merchantRefundId outside common::shop::refunds"
            ));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Every state a query names, as stored: orders, payments, payment attempts, refunds, mails.
const STATE_NAMES: &[&str] = &[
    "created",
    "payment_pending",
    "paid",
    "packed",
    "shipped",
    "delivered",
    "cancelled",
    "pending",
    "sending",
    "sent",
    "failed",
    "unconfirmed",
    "skipped",
    "creating",
    "completed",
    "error",
    "refund_pending",
    "refunded",
    "partially_refunded",
    "not_required",
];

#[test]
fn queries_name_states_by_their_enums_never_as_string_literals() {
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        let squashed: String = code(&text).split_whitespace().collect();
        for key in ["status", "state", "payment.status", "refunds.$.state"] {
            for name in STATE_NAMES {
                let literal = format!("\"{key}\":\"{name}\"");
                let in_list = format!("\"{key}\":{{\"$in\":[\"{name}\"");
                if squashed.contains(&literal) || squashed.contains(&in_list) {
                    offenders.push(format!("{path}: {key} = \"{name}\""));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use the state enum (it converts to Bson): {offenders:#?}"
    );
}
