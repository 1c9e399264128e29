//! The owner's desk for orders: every customer's orders, searched and filtered
//! (`GET /admin/orders`, the `listOrders` action), one order with everything needed to answer
//! a customer (`GET /admin/orders/{id}`, `getOrder`), and the accountant's CSV
//! (`GET /admin/orders/export.csv`).

use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::db::regex_literal;
use common::platform::error::FieldError;
use common::platform::http::{List, Page};
use common::platform::problem_codes::ProblemCode;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::messages::outbox::MAIL_OUTBOX;
use common::shop::order::lifecycle;
use common::shop::order::model::refund;
use common::shop::order::model::ORDERS;
use common::shop::order::model::{Order, OrderView, PaymentStatus};
use common::shop::order::status::{owner_actions, OrderStatus, OwnerAction};
use common::shop::payments::PAYMENT_ATTEMPTS;
use common::shop::vocabulary::ids::OrderId;
use common::shop::vocabulary::time::{india_time, parse_time, rfc3339};
use common::shop::Paise;
use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document, Regex};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders", get(list))
        .route("/admin/orders/export.csv", get(export_csv))
        .route("/admin/orders/{id}", get(get_one))
}

/// The most rows one CSV holds: a Lambda answer is capped at 6 MB, and an accountant exports
/// a month or a quarter at a time.
const EXPORT_MAX_ROWS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Newest,
    Oldest,
}

/// The filters of the list and the export.
#[derive(Debug)]
struct Filters {
    statuses: Vec<OrderStatus>,
    q: Option<String>,
    from: Option<DateTime>,
    to: Option<DateTime>,
    sort: Sort,
}

impl Filters {
    fn new() -> Self {
        Filters {
            statuses: Vec::new(),
            q: None,
            from: None,
            to: None,
            sort: Sort::Newest,
        }
    }

    /// Takes one named filter, a query parameter's or an action field's: the export has
    /// neither `q` nor `sort`.
    fn set(&mut self, name: &str, value: &str, allow_q: bool, errors: &mut Vec<FieldError>) {
        match name {
            "status" => {
                for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match OrderStatus::ALL.into_iter().find(|st| st.as_str() == s) {
                        Some(st) if !self.statuses.contains(&st) => self.statuses.push(st),
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            "status",
                            format!("'{s}' is not an order status (created, payment_pending, paid, packed, shipped, delivered, cancelled)"),
                        )),
                    }
                }
            }
            "q" if allow_q => {
                let q = value.trim();
                if q.chars().count() > 200 {
                    errors.push(FieldError::new("q", "must be at most 200 characters"));
                } else if q.chars().any(char::is_control) {
                    errors.push(FieldError::new("q", "must not contain control characters"));
                } else if !q.is_empty() {
                    self.q = Some(q.to_owned());
                }
            }
            "from" | "to" => match parse_time(name, value) {
                Ok(t) if name == "from" => self.from = Some(t),
                Ok(t) => self.to = Some(t),
                Err(e) => errors.push(e),
            },
            "sort" if allow_q => match value {
                "newest" => self.sort = Sort::Newest,
                "oldest" => self.sort = Sort::Oldest,
                _ => errors.push(FieldError::new("sort", "must be newest or oldest")),
            },
            other => errors.push(FieldError::new(other, "is not a known query parameter")),
        }
    }

    /// The filters, once every one was set and none was refused.
    fn checked(self, mut errors: Vec<FieldError>) -> Result<Self> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                errors.push(FieldError::new("from", "must not be after to"));
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(Error::validation(errors))
        }
    }
}

fn parse_filters(pairs: Vec<(String, String)>, allow_q: bool) -> Result<Filters> {
    let mut f = Filters::new();
    let mut errors = Vec::new();
    for (k, v) in pairs {
        f.set(&k, &v, allow_q, &mut errors);
    }
    f.checked(errors)
}

/// What `GET /admin/orders` and the `listOrders` action show: the filters and the page.
#[derive(Debug)]
pub(crate) struct OrderQuery {
    filters: Filters,
    page: Page,
}

impl OrderQuery {
    /// From the route's query string.
    fn from_query(query: Option<&str>) -> Result<Self> {
        let (page, rest) = Page::parse_with(query, &["status", "q", "from", "to", "sort"])?;
        Ok(OrderQuery {
            filters: parse_filters(rest, true)?,
            page,
        })
    }
}

/// The `listOrders` action's fields: the list route's query parameters as JSON, `status` a
/// list or a comma-separated string.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOrdersInput {
    #[serde(default, deserialize_with = "statuses")]
    status: Vec<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `"paid,packed"` or `["paid", "packed"]`.
fn statuses<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "must be a status, or a list of statuses")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl TryFrom<ListOrdersInput> for OrderQuery {
    type Error = Error;

    fn try_from(input: ListOrdersInput) -> Result<Self> {
        let page = Page::from_fields(input.limit, input.cursor.as_deref())?;
        let mut filters = Filters::new();
        let mut errors = Vec::new();
        let named = [
            ("q", input.q),
            ("from", input.from),
            ("to", input.to),
            ("sort", input.sort),
        ];
        let statuses = input.status.into_iter().map(|s| ("status", Some(s)));
        for (name, value) in statuses.chain(named) {
            if let Some(value) = value {
                filters.set(name, &value, true, &mut errors);
            }
        }
        Ok(OrderQuery {
            filters: filters.checked(errors)?,
            page,
        })
    }
}

fn ci(pattern: String) -> Regex {
    Regex {
        pattern,
        options: "i".into(),
    }
}

/// What `q` can mean, as one `$or`: the owner types whatever the customer said on the phone.
async fn search_filter(services: &Services, q: &str) -> Result<Document> {
    let mut any: Vec<Document> = Vec::new();
    if let Ok(id) = ObjectId::parse_str(q) {
        any.push(doc! { "_id": id });
    }
    if lifecycle::looks_like_number(q) {
        any.push(doc! { "number": q.to_ascii_uppercase() });
    }
    if q.contains('@') {
        any.push(doc! { "email": ci(format!("^{}$", regex_literal(q))) });
    }
    if let Some(phone) = common::shop::vocabulary::address::normalize_mobile(q) {
        any.push(doc! { "shipping.address.phone": phone });
    }
    any.push(doc! { "shipping.address.name": ci(format!("^{}", regex_literal(q))) });
    any.push(doc! { "shipping.trackingNumber": q });
    any.push(doc! { "payment.merchantOrderId": q });
    any.push(doc! { "payment.transactionId": q });
    // Any attempt, not only the one that paid: a customer may quote a failed one.
    let attempt = services
        .db
        .docs(PAYMENT_ATTEMPTS)
        .find_one(doc! { "merchantOrderId": q })
        .projection(doc! { "orderId": 1 })
        .await?;
    if let Some(order_id) = attempt.and_then(|a| a.get_object_id("orderId").ok()) {
        any.push(doc! { "_id": order_id });
    }
    Ok(doc! { "$or": any })
}

async fn filter_of(services: &Services, f: &Filters) -> Result<Document> {
    let mut and: Vec<Document> = Vec::new();
    if !f.statuses.is_empty() {
        let statuses: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        and.push(doc! { "status": { "$in": statuses } });
    }
    let mut created = Document::new();
    if let Some(from) = f.from {
        created.insert("$gte", from);
    }
    if let Some(to) = f.to {
        created.insert("$lte", to);
    }
    if !created.is_empty() {
        and.push(doc! { "createdAt": created });
    }
    if let Some(q) = &f.q {
        and.push(search_filter(services, q).await?);
    }
    Ok(if and.is_empty() {
        Document::new()
    } else {
        doc! { "$and": and }
    })
}

/// An order as the owner's desk shows it: the order, and what the owner may do to it now, so
/// that the console offers only those actions and keeps no copy of the rules.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminOrderView {
    #[serde(flatten)]
    order: OrderView,
    allowed_actions: Vec<OwnerAction>,
}

impl From<Order> for AdminOrderView {
    fn from(order: Order) -> Self {
        let collected = refund::collected(&order) > Paise::ZERO;
        AdminOrderView {
            allowed_actions: owner_actions(order.status, collected),
            order: OrderView::from(order),
        }
    }
}

async fn list(
    State(services): State<Services>,
    _: Admin,
    RawQuery(query): RawQuery,
) -> Result<List<AdminOrderView>> {
    list_orders(&services, OrderQuery::from_query(query.as_deref())?).await
}

/// `GET /admin/orders` and the direct `listOrders` action.
pub(crate) async fn list_orders(
    services: &Services,
    query: OrderQuery,
) -> Result<List<AdminOrderView>> {
    let OrderQuery { filters: f, page } = query;
    let mut filter = filter_of(services, &f).await?;
    let (direction, op) = match f.sort {
        Sort::Newest => (-1, "$lt"),
        Sort::Oldest => (1, "$gt"),
    };
    if let Some(after) = page.after {
        filter = doc! { "$and": [filter, { "_id": { op: after } }] };
    }
    let rows: Vec<Order> = services
        .db
        .collection::<Order>(ORDERS)
        .find(filter)
        .sort(doc! { "_id": direction })
        .limit(page.limit + 1)
        .await?
        .try_collect()
        .await?;
    Ok(List::from_rows(
        rows,
        page,
        |o| o.id.oid(),
        AdminOrderView::from,
    ))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptView {
    merchant_order_id: String,
    state: String,
    amount: Paise,
    created_at: Option<String>,
    completed_at: Option<String>,
    last_error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MailView {
    event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_id: Option<String>,
    status: String,
    attempts: i64,
    sent_at: Option<String>,
    last_error: Option<String>,
}

fn time_of(d: &Document, key: &str) -> Option<String> {
    d.get_datetime(key).ok().map(|t| rfc3339(*t))
}

fn text_of(d: &Document, key: &str) -> Option<String> {
    d.get_str(key).ok().map(str::to_owned)
}

/// The order and everything around it, for answering a customer: the PhonePe attempts, the
/// mails and, once issued, the invoice and credit notes.
pub(crate) async fn detail(services: &Services, raw: &str) -> Result<Value> {
    let id = lifecycle::resolve(&services.db, raw).await?;
    let order = services
        .db
        .collection::<Order>(ORDERS)
        .find_one(doc! { "_id": id.oid() })
        .await?
        .ok_or_else(common::shop::order::model::order_not_found)?;
    let attempts: Vec<AttemptView> = services
        .db
        .docs(PAYMENT_ATTEMPTS)
        .find(doc! { "orderId": id.oid() })
        .sort(doc! { "_id": 1 })
        .await?
        .try_collect::<Vec<Document>>()
        .await?
        .iter()
        .map(|a| AttemptView {
            merchant_order_id: text_of(a, "merchantOrderId").unwrap_or_default(),
            state: text_of(a, "state").unwrap_or_default(),
            amount: Paise(a.get_i64("amount").unwrap_or_default()),
            created_at: time_of(a, "createdAt"),
            completed_at: time_of(a, "completedAt"),
            last_error: text_of(a, "lastError"),
        })
        .collect();
    let mails: Vec<MailView> = services
        .db
        .docs(MAIL_OUTBOX)
        .find(doc! { "orderId": id.oid() })
        .sort(doc! { "createdAt": 1, "_id": 1 })
        .await?
        .try_collect::<Vec<Document>>()
        .await?
        .iter()
        .map(|m| MailView {
            event: text_of(m, "event").unwrap_or_default(),
            refund_id: text_of(m, "refundId"),
            status: text_of(m, "status").unwrap_or_default(),
            attempts: m
                .get_i32("attempts")
                .map(i64::from)
                .or_else(|_| m.get_i64("attempts"))
                .unwrap_or_default(),
            sent_at: time_of(m, "sentAt"),
            last_error: text_of(m, "lastError"),
        })
        .collect();
    let mut view =
        serde_json::to_value(AdminOrderView::from(order)).map_err(anyhow::Error::from)?;
    view["attempts"] = json!(attempts);
    view["mails"] = json!(mails);
    view["invoice"] = match common::shop::invoices::find(&services.db, id).await? {
        Some(invoice) => serde_json::to_value(invoice).map_err(anyhow::Error::from)?,
        None => Value::Null,
    };
    view["creditNotes"] = json!(crate::invoices::summaries(
        common::shop::invoices::credit_notes(&services.db, id).await?
    ));
    Ok(view)
}

async fn get_one(
    State(services): State<Services>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(detail(&services, &id).await?))
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. Text a
/// customer typed that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is prefixed
/// with `'`, so opening the export cannot execute anything.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn rupees(p: Paise) -> String {
    let v = p.get();
    let sign = if v < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        v.unsigned_abs() / 100,
        v.unsigned_abs() % 100
    )
}

const CSV_HEADER: &[&str] = &[
    "number",
    "id",
    "created (IST)",
    "status",
    "customer name",
    "email",
    "phone",
    "state",
    "subtotal",
    "discount",
    "shipping fee",
    "total",
    "taxable value",
    "CGST",
    "SGST",
    "IGST",
    "payment status",
    "transactionId",
    "refunded amount",
    "invoice number",
    "carrier",
    "tracking number",
    "items",
];

/// `2 × Kuber Brass Urli — 8 in / Antique [URLI-8-ANT]; 1 × …`: what the parcel holds, by
/// the names and SKUs the order snapshotted, so the packer finds each on the shelf.
fn items_cell(o: &Order) -> String {
    o.items
        .iter()
        .map(|i| match &i.sku {
            Some(sku) => format!("{} × {} [{sku}]", i.quantity, i.display_name()),
            None => format!("{} × {}", i.quantity, i.display_name()),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn csv_row(o: &Order, invoice: Option<&str>) -> String {
    let a = &o.shipping.address;
    // An order placed before GST was modelled has no tax, and an order never paid (still
    // waiting, or cancelled unpaid) was never a supply: their tax columns stay empty rather
    // than showing tax that an accountant could take for tax owed.
    let never_paid = matches!(
        o.payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed
    );
    let tax = |f: fn(&common::shop::tax::OrderTax) -> Paise| {
        o.tax.as_ref().filter(|_| !never_paid).map(f).map(rupees)
    };
    let cells = [
        o.display_number(),
        o.id.to_hex(),
        india_time(o.created_at),
        o.status.as_str().to_owned(),
        a.name.clone(),
        o.email.to_string(),
        a.phone.clone(),
        a.state.clone(),
        rupees(o.subtotal),
        rupees(o.discount),
        rupees(o.shipping_fee),
        rupees(o.total),
        tax(|t| t.taxable_value).unwrap_or_default(),
        tax(|t| t.cgst).unwrap_or_default(),
        tax(|t| t.sgst).unwrap_or_default(),
        tax(|t| t.igst).unwrap_or_default(),
        o.payment.status.as_str().to_owned(),
        o.payment.transaction_id.clone().unwrap_or_default(),
        rupees(o.payment.refunded_amount),
        invoice.unwrap_or_default().to_owned(),
        o.shipping.carrier.clone().unwrap_or_default(),
        o.shipping.tracking_number.clone().unwrap_or_default(),
        items_cell(o),
    ];
    let mut line = cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

async fn export_csv(
    State(services): State<Services>,
    _: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let pairs = common::platform::http::query_pairs(query.as_deref())?;
    let mut f = parse_filters(pairs, false)?;
    // A year is what an accountant closes at once; more would not fit one Lambda answer.
    // Without `from`, the export is the year up to `to` (or now).
    const MAX_RANGE_MS: i64 = 366 * 24 * 3600 * 1000;
    let to = f.to.map_or_else(
        || DateTime::now().timestamp_millis(),
        |t| t.timestamp_millis(),
    );
    let from = *f
        .from
        .get_or_insert(DateTime::from_millis(to - MAX_RANGE_MS));
    if to - from.timestamp_millis() > MAX_RANGE_MS {
        return Err(Error::field(
            "from",
            "an export covers at most a year: give from and to at most 366 days apart",
        ));
    }
    let filter = filter_of(&services, &f).await?;
    let rows: Vec<Order> = services
        .db
        .collection::<Order>(ORDERS)
        .find(filter)
        .sort(doc! { "_id": 1 })
        .limit(EXPORT_MAX_ROWS as i64 + 1)
        .await?
        .try_collect()
        .await?;
    if rows.len() > EXPORT_MAX_ROWS {
        return Err(Error::new(
            ProblemCode::ExportTooLarge,
            format!("More than {EXPORT_MAX_ROWS} orders match; export a shorter period with from and to"),
        ));
    }
    let ids: Vec<OrderId> = rows.iter().map(|o| o.id).collect();
    let invoices: std::collections::HashMap<OrderId, String> = services
        .db
        .docs(common::shop::invoices::INVOICES)
        .find(doc! { "orderId": { "$in": ids } })
        .projection(doc! { "orderId": 1, "number": 1 })
        .await?
        .try_collect::<Vec<Document>>()
        .await?
        .into_iter()
        .filter_map(|d| {
            Some((
                OrderId(d.get_object_id("orderId").ok()?),
                d.get_str("number").ok()?.to_owned(),
            ))
        })
        .collect();
    let mut body = CSV_HEADER.join(",");
    body.push_str("\r\n");
    for o in &rows {
        body.push_str(&csv_row(o, invoices.get(&o.id).map(String::as_str)));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"pitalya-orders.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("Iyer, Asha"), "\"Iyer, Asha\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+91 98765"), "'+91 98765");
    }

    #[test]
    fn rupees_have_two_decimals() {
        assert_eq!(rupees(Paise(129_900)), "1299.00");
        assert_eq!(rupees(Paise(5)), "0.05");
        assert_eq!(rupees(Paise(0)), "0.00");
    }
}
