//! The rules of ARCHITECTURE.md that the compiler cannot check, checked on the source: one
//! writer of order statuses, and a platform layer that does not reach into the shop.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Rust source of the functions and the shared crate, with its path from the repo root.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("common/src")];
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
    let writer = "common/src/domain/orders.rs";
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
        "order status changes must go through common::orders::change_in: {offenders:#?}"
    );
}

/// The modules of a layer: the files (and folders) of `common/src/<layer>/`.
fn modules_of(layer: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(repo().join("common/src").join(layer))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The code (comments removed) of every source file under `common/src/<layer>/`.
fn in_layer(layer: &str) -> Vec<(String, String)> {
    let prefix = format!("common/src/{layer}/");
    sources()
        .into_iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .map(|(path, text)| (path, code(&text)))
        .collect()
}

/// Whether code names `module` of the crate (`crate::orders::…` or `use crate::orders;`).
fn names(code: &str, module: &str) -> bool {
    code.contains(&format!("crate::{module}::")) || code.contains(&format!("crate::{module};"))
}

/// The layer rule, read off the folders so a new module is covered the day it is added:
/// no file under `platform/` names a module of `domain/` or `integrations/` (through the
/// crate root's re-exports or their layer's path).
#[test]
fn the_platform_layer_never_imports_the_shop() {
    let platform = modules_of("platform");
    assert!(platform.contains(&"db".to_owned()), "{platform:?}");
    let mut shop: Vec<String> = vec!["domain".into(), "integrations".into(), "services".into()];
    shop.extend(modules_of("domain"));
    shop.extend(modules_of("integrations"));
    assert!(shop.contains(&"orders".to_owned()) && shop.contains(&"phonepe".to_owned()));
    let mut offenders = Vec::new();
    for (path, text) in in_layer("platform") {
        for module in &shop {
            if names(&text, module) {
                offenders.push(format!("{path} uses {module}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Integrations are clients of other services: they may use the platform, never the shop's
/// domain (which uses them).
#[test]
fn integrations_never_import_the_domain() {
    let domain = modules_of("domain");
    let mut offenders = Vec::new();
    for (path, text) in in_layer("integrations") {
        for module in domain
            .iter()
            .map(String::as_str)
            .chain(["domain", "services"])
        {
            if names(&text, module) {
                offenders.push(format!("{path} uses {module}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// `error` renders problem documents with the request id and `http` turns errors into
/// responses: the id lives in `request_id`, so only `http` imports `error`, not the reverse.
#[test]
fn error_does_not_import_http() {
    let text = code(&fs::read_to_string(repo().join("common/src/platform/error.rs")).unwrap());
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
    use common::problem_codes::ProblemCode;
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
        "openapi.yaml's ProblemCode enum and common::problem_codes::ProblemCode differ"
    );
}

#[test]
fn product_stock_and_refund_ids_each_have_one_writer() {
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        let squashed: String = code(&text).split_whitespace().collect();
        // Stock moves only with its ledger entry, in `catalog::move_stock_in`.
        if path != "common/src/domain/catalog.rs" && squashed.contains("\"$inc\":{\"stock\"") {
            offenders.push(format!("{path}: changes stock outside common::catalog"));
        }
        // A refund's id is fixed by `refunds` when the refund is recorded, and only there.
        if path != "common/src/domain/refunds.rs"
            && squashed.contains("\"refunds.$.merchantRefundId\"")
        {
            offenders.push(format!(
                "{path}: writes a merchantRefundId outside common::refunds"
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
