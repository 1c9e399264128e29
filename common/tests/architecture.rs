//! The rules of ARCHITECTURE.md that the compiler cannot check, checked on the source and the
//! manifests: the layers' direction, the shop's declared order, and one writer of each state.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Rust source of the functions and the shared crate, with its path from the repo root.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for layer in LAYERS {
        out.extend(rust_files_under(&format!("common/{layer}/src")));
    }
    for f in fs::read_dir(repo().join("functions")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        out.extend(rust_files_under(&format!("functions/{name}/src")));
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
fn order_statuses_are_written_only_by_the_orders_transitions() {
    let writer = "common/shop/src/order/transition.rs";
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
        // value being set counts, or, in code that writes orders, any `status` being set
        // (a typed value such as `to` or `plan.to.as_str()` gives no status away).
        let writes_orders = squashed.contains("(ORDERS)") || squashed.contains("\"orders\"");
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
            if writes_orders {
                for (at, _) in squashed.match_indices(set) {
                    let value = &squashed[at + set.len()..];
                    if !value.starts_with("MailStatus::") {
                        let shown: String = value.chars().take(30).collect();
                        offenders.push(format!("{path}: {set}{shown}"));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "order status changes must go through common::shop::order::transition: {offenders:#?}"
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

/// Whether code names `module` of the crate (`crate::order::lifecycle::…` or `use crate::order::lifecycle;`).
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
    // A variant's stock too (`catalog`'s one mover, `inc_stock_in`, with its ledger entry).
    OneWriter {
        field: "a variant's stock",
        writer: "common/shop/src/catalog.rs",
        write: Write::Spelled("variants.$[v].stock"),
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
    // `PaymentMove` (with the order's model, re-exported by `payments`): the fields each
    // move of a payment sets and the statuses it may leave, which payments, refunds and the
    // order's transitions carry into their updates.
    OneWriter {
        field: "an order's payment.status",
        writer: "common/shop/src/order/model/payment.rs",
        write: Write::Spelled("payment.status"),
    },
    OneWriter {
        field: "an order's payment.flag",
        writer: "common/shop/src/order/model/payment.rs",
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

/// The shop's modules, lowest first: a module uses only modules declared before it, so the
/// shop has no cycles and a newcomer can read it bottom-up. Some modules are split where the
/// code needs it: the outbox is below everything that queues a message and the mail above
/// everything it reads; the order's statuses and model are below invoices (drawn from the
/// model), the rest of the order above them (a shipment issues one).
const SHOP_ORDER: &[&str] = &[
    "vocabulary",
    "tax",
    "catalog",
    "shopify",
    "coupons",
    "cart",
    "messages::outbox",
    "order::status",
    "order::model",
    "invoices",
    "order",
    "payments",
    "refunds",
    "messages",
];

/// The declared module of the shop a module path (`order::model::refund`) belongs to: the
/// longest entry of `SHOP_ORDER` it starts with.
fn shop_entry(path: &[String]) -> Option<usize> {
    SHOP_ORDER
        .iter()
        .enumerate()
        .filter(|(_, entry)| {
            let entry: Vec<&str> = entry.split("::").collect();
            entry.len() <= path.len() && entry.iter().zip(path).all(|(e, p)| e == p)
        })
        .max_by_key(|(_, entry)| entry.len())
        .map(|(i, _)| i)
}

/// The byte ranges of the inline modules (`mod tests { … }`) of `code`, inside which `super`
/// is the file's own module.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for (at, _) in code.match_indices("mod ") {
        let rest = &code[at + 4..];
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len == 0 || !rest[name_len..].trim_start().starts_with('{') {
            continue;
        }
        let open = at + 4 + name_len + rest[name_len..].find('{').unwrap();
        let mut depth = 0;
        for (i, b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push((open, i));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The paths `code` starts with (`order::model::Order` after a `crate::`, or each item of
/// `order::{model, status}`).
fn paths_at(code: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> (String, usize) {
        let n = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (s[..n].to_owned(), n)
    };
    let mut segments = Vec::new();
    let mut rest = code;
    loop {
        let (name, n) = ident(rest);
        if name.is_empty() {
            break;
        }
        segments.push(name);
        rest = &rest[n..];
        match rest.strip_prefix("::") {
            Some(more) => rest = more.trim_start(),
            None => return vec![segments],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![segments];
    };
    let end = group.find('}').unwrap_or(group.len());
    group[..end]
        .split(',')
        .map(|item| {
            let mut path = segments.clone();
            path.extend(paths_at(item.trim()).into_iter().next().unwrap_or_default());
            path
        })
        .collect()
}

/// Each module of the shop names (`crate::…`, or `super::…` resolved from the file) only
/// modules declared before it in `SHOP_ORDER`, or its own.
#[test]
fn shop_modules_use_only_modules_declared_before_them() {
    let mut offenders = Vec::new();
    let mut files = 0;
    for (path, text) in sources() {
        let Some(rel) = path.strip_prefix("common/shop/src/") else {
            continue;
        };
        if rel == "lib.rs" {
            for line in code(&text).lines() {
                if let Some(name) = line.trim().strip_prefix("pub mod ") {
                    let name = name.trim_end_matches(';').to_owned();
                    if shop_entry(std::slice::from_ref(&name)).is_none() {
                        offenders.push(format!("lib.rs: module {name} is not in SHOP_ORDER"));
                    }
                }
            }
            continue;
        }
        files += 1;
        let module: Vec<String> = rel
            .trim_end_matches(".rs")
            .trim_end_matches("/mod")
            .split('/')
            .map(str::to_owned)
            .collect();
        let Some(own) = shop_entry(&module) else {
            offenders.push(format!("{rel}: its module is not in SHOP_ORDER"));
            continue;
        };
        let code = code(&text);
        let inline = inline_modules(&code);
        let mut named = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            named.extend(paths_at(&code[at + "crate::".len()..]));
        }
        for (at, _) in code.match_indices("super::") {
            let mut base = module.clone();
            if !inline
                .iter()
                .any(|(open, close)| (*open..*close).contains(&at))
            {
                base.pop();
            }
            for path in paths_at(&code[at + "super::".len()..]) {
                let mut full = base.clone();
                full.extend(path);
                named.push(full);
            }
        }
        for path in named {
            match shop_entry(&path) {
                Some(used) if used > own => offenders.push(format!(
                    "{rel} ({}) uses {} ({}), declared after it",
                    SHOP_ORDER[own],
                    path.join("::"),
                    SHOP_ORDER[used]
                )),
                Some(_) => {}
                None => offenders.push(format!(
                    "{rel} uses crate::{}, which is not in SHOP_ORDER",
                    path.join("::")
                )),
            }
        }
    }
    assert!(files > 30, "found the shop's files: {files}");
    assert!(
        offenders.is_empty(),
        "the shop's modules use only those declared before them (SHOP_ORDER): {offenders:#?}"
    );
}

/// A transaction is the shop's to open, around one shop function: a function crate parses,
/// validates, calls the shop and answers, so what must happen together is in one place.
#[test]
fn function_crates_open_no_transaction_of_their_own() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(path, text)| {
            path.starts_with("functions/") && code(text).contains("transaction!")
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "move the transaction into a common::shop function: {offenders:#?}"
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

/// The README's code map is how a newcomer finds a route's code: every file it names under
/// `common/` or in a function must exist, so a move cannot leave it pointing at nothing.
#[test]
fn every_file_the_readme_code_map_names_exists() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let mut named = 0;
    let mut missing = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with('|')) {
        let function = line
            .split("→ `")
            .nth(1)
            .and_then(|rest| rest.split('`').next());
        for (i, cell) in line.split('`').enumerate() {
            if i % 2 == 0 || !cell.ends_with(".rs") || cell.contains(' ') {
                continue;
            }
            let path = match cell.split('/').next() {
                Some("platform" | "shop" | "integrations") => format!("common/{cell}"),
                _ if !cell.contains('/') && function.is_some() => {
                    format!("functions/{}/src/{cell}", function.unwrap())
                }
                _ => continue,
            };
            named += 1;
            if !repo().join(&path).exists() {
                missing.push(path);
            }
        }
    }
    assert!(named > 20, "read the code map: {named} files");
    assert!(
        missing.is_empty(),
        "the README names files that do not exist: {missing:#?}"
    );
}

/// Every `.rs` file under a folder, with its path from the repo root.
fn rust_files_under(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join(dir)];
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
                    .into_owned();
                out.push((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

/// Time in tests comes from the clock they move (`TestClock::advance`, the simulator's
/// `advance_clock`); a sleep may only wait briefly for another task. A sleep of more than a
/// second in a test is time passing by the wall clock, and a slow, flaky suite.
#[test]
fn no_test_sleeps_more_than_a_second() {
    let mut files = rust_files_under("dev/server/tests");
    files.extend(rust_files_under("dev/phonepe-sim/tests"));
    files.extend(rust_files_under("common/tests"));
    assert!(files.len() > 20, "found the tests");
    let mut offenders = Vec::new();
    for (path, text) in files {
        for (n, line) in code(&text).lines().enumerate() {
            let Some(at) = line.find("sleep(") else {
                continue;
            };
            let call = &line[at..];
            let millis = |unit: &str, scale: u64| -> Option<u64> {
                let rest = &call[call.find(unit)? + unit.len()..];
                let digits: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '_')
                    .filter(char::is_ascii_digit)
                    .collect();
                Some(digits.parse::<u64>().ok()? * scale)
            };
            let slept = millis("from_secs(", 1000).or_else(|| millis("from_millis(", 1));
            if slept.is_some_and(|ms| ms > 1000) {
                offenders.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "move the clock instead: {offenders:#?}"
    );
}
