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

/// The documents an update writes: those of its operators (`"$set": { … }`) and those built
/// to become one (`let mut set = doc! { … }`).
const UPDATE_HEADS: &[&str] = &[
    "\"$set\":",
    "\"$inc\":",
    "\"$setOnInsert\":",
    "\"$unset\":",
    "\"$push\":",
    "\"$max\":",
    "\"$min\":",
    "set=",
    "update=",
];

/// Whether the innermost object open at the end of `before` is a document an update writes.
fn inside_an_update(before: &str) -> bool {
    let mut depth = 0;
    for (i, c) in before.char_indices().rev() {
        match c {
            '}' | ']' | ')' => depth += 1,
            '{' | '[' | '(' if depth > 0 => depth -= 1,
            '{' => {
                let head = before[..i].trim_end_matches("doc!");
                return UPDATE_HEADS.iter().any(|h| head.ends_with(h));
            }
            _ if depth == 0 && matches!(c, '[' | '(' | ';') => return false,
            _ => {}
        }
    }
    false
}

/// The values code writes to `field`: inside an update's document, put into one
/// (`set.insert("field", v)`), or given to a builder of one (`.set("field", v)`). A filter
/// naming the field (`filter.insert("field", …)`, `doc! { "field": … }`) is no write.
fn writes_of(code: &str, field: &str) -> Vec<String> {
    let squashed: String = code.split_whitespace().collect();
    let key = format!("\"{field}\"");
    squashed
        .match_indices(&key)
        .filter_map(|(at, _)| {
            let before = &squashed[..at];
            let after = &squashed[at + key.len()..];
            let value = after
                .strip_prefix(':')
                .or_else(|| after.strip_prefix(','))?;
            let written = before.ends_with(".set(")
                || before.ends_with("set.insert(")
                || before.ends_with("update.insert(")
                || inside_an_update(before);
            written.then(|| value.chars().take(60).collect())
        })
        .collect()
}

/// What counts as writing a field outside its writer.
enum Write {
    /// Any update that sets it (`writes_of`); with a name, only values that name it.
    Update(&'static str, Option<&'static str>),
    /// Its path spelled at all: orders are read as typed documents, so only a write (or a
    /// filter, which belongs with the writer) spells it.
    Spelled(&'static str),
}

impl Write {
    fn by(&self, code: &str) -> bool {
        match self {
            Write::Update(field, value) => writes_of(code, field)
                .iter()
                .any(|v| value.is_none_or(|name| v.contains(name))),
            Write::Spelled(path) => code.contains(&format!("\"{path}\"")),
        }
    }
}

/// A field with one writer: the file that may write it, and what counts as writing it.
struct OneWriter {
    field: &'static str,
    writer: &'static str,
    write: Write,
}

/// Each of these is an invariant one file upholds; a second writer would have to uphold it
/// too, and would one day forget.
const ONE_WRITER: &[OneWriter] = &[
    // Stock moves only with its ledger entry, in `catalog::move_stock_in`.
    OneWriter {
        field: "a product's stock",
        writer: "common/shop/src/catalog.rs",
        write: Write::Update("stock", None),
    },
    // A refund's id is fixed by `refunds` when the refund is recorded (pushed whole, with
    // its refund), and only there.
    OneWriter {
        field: "a refund's merchantRefundId",
        writer: "common/shop/src/refunds.rs",
        write: Write::Spelled("refunds.$.merchantRefundId"),
    },
    // `payments::move_attempt`: each move leaves only the states it may leave.
    OneWriter {
        field: "a payment attempt's state",
        writer: "common/shop/src/payments.rs",
        write: Write::Update("state", Some("AttemptState")),
    },
    // `payments::PaymentMove`: the fields each move of a payment sets.
    OneWriter {
        field: "an order's payment.status",
        writer: "common/shop/src/payments.rs",
        write: Write::Spelled("payment.status"),
    },
    OneWriter {
        field: "an order's payment.flag",
        writer: "common/shop/src/payments.rs",
        write: Write::Spelled("payment.flag"),
    },
    // `coupons::uses`: claimed at checkout within the limit, given back once on release.
    OneWriter {
        field: "a coupon's usedCount",
        writer: "common/shop/src/coupons/uses.rs",
        write: Write::Update("usedCount", None),
    },
    // Invoice and credit-note numbers are gapless and never repeat: `invoices` takes them
    // from their counters in the transaction that issues the document. (Order numbers may
    // have gaps; their counter is the orders' own.)
    OneWriter {
        field: "an invoice or credit-note number's counter",
        writer: "common/shop/src/invoices.rs",
        write: Write::Update("seq", None),
    },
];

/// The order numbers' counter, which may have gaps and so is not the invoices'.
const ORDER_NUMBER_COUNTER: &str = "\"orderNumber\"";

#[test]
fn stock_refund_ids_attempt_states_payments_coupon_uses_and_invoice_numbers_each_have_one_writer() {
    let sources = sources();
    let mut offenders = Vec::new();
    for rule in ONE_WRITER {
        assert!(
            sources.iter().any(|(path, _)| path == rule.writer),
            "{} is gone: point the rule for {} at its writer",
            rule.writer,
            rule.field
        );
        for (path, text) in &sources {
            let code = code(text);
            if path == rule.writer
                || (rule.writer.ends_with("invoices.rs") && code.contains(ORDER_NUMBER_COUNTER))
            {
                continue;
            }
            if rule.write.by(&code) {
                offenders.push(format!(
                    "{path} writes {} (only {} may)",
                    rule.field, rule.writer
                ));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// The rules above see a write where there is one: each writer's own is found.
#[test]
fn the_one_writer_rules_see_their_writers_writes() {
    for rule in ONE_WRITER {
        let text = code_of(rule.writer);
        let seen = match rule.write {
            Write::Update(field, _) => !writes_of(&text, field).is_empty(),
            // Pushed whole with its refund: there is no path to see.
            Write::Spelled("refunds.$.merchantRefundId") => continue,
            Write::Spelled(_) => rule.write.by(&text),
        };
        assert!(seen, "no write of {} found in {}", rule.field, rule.writer);
    }
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

/// Each shop module owns its collections and declares their indexes; the platform builds
/// them (`IndexSpec`, under the schema version) without knowing their names.
#[test]
fn the_platform_names_no_shop_collection() {
    let mut shop: Vec<&str> = common::shop::indexes()
        .iter()
        .map(|spec| match spec {
            common::platform::db::IndexSpec::Create { collection, .. }
            | common::platform::db::IndexSpec::Retire { collection, .. } => *collection,
        })
        .collect();
    shop.sort_unstable();
    shop.dedup();
    assert!(shop.len() >= 10, "found the shop's collections: {shop:?}");
    let mut offenders = Vec::new();
    for (path, text) in sources() {
        if !path.starts_with("common/platform/") {
            continue;
        }
        let code = code(&text);
        for name in &shop {
            if code.contains(&format!("\"{name}\"")) {
                offenders.push(format!("{path} names the shop's {name}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}
