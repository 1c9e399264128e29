//! `admin-ship`: the shop owner's actions on orders (`/admin/orders/{id}/...`), over HTTP
//! for admins and by direct invocation (IAM-protected) for the console and scripts, plus
//! the catalog upserts used to seed and maintain products and coupons.

mod catalog_routes;
pub mod console;
mod desk;
mod invoice_routes;
mod refund;

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::platform::auth::{Admin, Auth};
use common::platform::config::{Config, MailConfig};
use common::platform::http::JsonBytes;
use common::platform::services::Services;
use common::platform::text::{self, Rule};
use common::platform::{Error, Result};
use common::shop::catalog::{upsert_product, ProductInput};
use common::shop::coupons::{upsert_coupon, CouponInput};
use common::shop::ids::OrderId;
use common::shop::mail::Mailer;
use common::shop::models::{Order, OrderView};
use common::shop::order_state::OrderStatus;
use common::shop::orders::{self, Change};
use common::shop::outbox::MailEvent;
use common::shop::seller::SellerConfig;
use console::ConsoleConfig;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The settings this function reads at cold start: owner actions mail the customer right
/// after their commit, and shipping issues the GST invoice as the seller. `main.rs` and the
/// tests read this one type, so they cannot drift apart.
pub type Settings = (Config, SellerConfig, MailConfig, ConsoleConfig);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/admin/orders/{id}/ship"),
    ("POST", "/admin/orders/{id}/pack"),
    ("POST", "/admin/orders/{id}/deliver"),
    ("POST", "/admin/orders/{id}/cancel"),
    ("POST", "/admin/orders/{id}/refund"),
    ("POST", "/admin/orders/{id}/refund/preview"),
    ("GET", "/admin/orders"),
    ("GET", "/admin/orders/export.csv"),
    ("GET", "/admin/orders/{id}"),
    ("GET", "/admin/products"),
    ("POST", "/admin/products"),
    ("PATCH", "/admin/products/{id}"),
    ("POST", "/admin/products/{id}/stock"),
    ("GET", "/admin/products/{id}/stock-movements"),
    ("GET", "/admin/coupons"),
    ("POST", "/admin/coupons"),
    ("PATCH", "/admin/coupons/{code}"),
    ("GET", "/admin/orders/{id}/invoice"),
    ("GET", "/admin/orders/{id}/invoice.pdf"),
    ("GET", "/admin/orders/{id}/credit-notes/{number}"),
    ("GET", "/admin"),
    ("GET", "/admin/console.js"),
    ("GET", "/admin/console.css"),
];

/// Who a direct invocation acts as in the order's history: IAM let the caller in, and the
/// invocation carries no user.
pub const DIRECT_ACTOR: &str = "direct-invocation";

/// What this function is built from, once per cold start: its routes and its direct
/// invocations share it.
#[derive(Clone)]
pub struct AdminShip {
    services: Services,
    seller: Arc<SellerConfig>,
    mailer: Arc<Mailer>,
    console: ConsoleConfig,
}

#[derive(Clone, FromRef)]
struct AppState {
    app: AdminShip,
    services: Services,
    auth: Auth,
}

impl AppState {
    fn of(app: &AdminShip) -> Self {
        AppState {
            app: app.clone(),
            services: app.services.clone(),
            auth: app.services.auth.clone(),
        }
    }
}

impl AdminShip {
    pub fn new(
        services: Services,
        seller: Arc<SellerConfig>,
        mailer: Arc<Mailer>,
        console: ConsoleConfig,
    ) -> Self {
        AdminShip {
            services,
            seller,
            mailer,
            console,
        }
    }

    pub fn router(&self) -> Router {
        router(self)
    }

    /// Answers a direct invocation: `{"action": ..., ...}` → `{"ok": true, ...}` or
    /// `{"ok": false, "error": {"code", "message"}}`. Never fails the invocation itself, so
    /// the console shows the reason instead of a stack trace.
    pub async fn invoke(&self, event: Value) -> Value {
        invoke(self, event).await
    }
}

fn router(app: &AdminShip) -> Router {
    Router::new()
        .route("/admin/orders/{id}/ship", post(ship_http))
        .route("/admin/orders/{id}/pack", post(pack_http))
        .route("/admin/orders/{id}/deliver", post(deliver_http))
        .route("/admin/orders/{id}/cancel", post(cancel_http))
        .route("/admin/orders/{id}/refund", post(refund_http))
        .route(
            "/admin/orders/{id}/refund/preview",
            post(refund_preview_http),
        )
        .route("/admin/orders", axum::routing::get(desk::list))
        .route(
            "/admin/orders/export.csv",
            axum::routing::get(desk::export_csv),
        )
        .route("/admin/orders/{id}", axum::routing::get(desk::detail_http))
        .with_state(AppState::of(app))
        .merge(catalog_routes::router(app))
        .merge(invoice_routes::router(app))
        .merge(console::router(app.console.clone()))
}

/// `POST /admin/orders/{id}/ship` body (and the fields of the direct `ship` action).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShipInput {
    // Optional so that every missing field is named at once.
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `/pack` and `/deliver` take no fields; an empty body and `{}` are both fine.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// One of the owner's actions on an order.
#[derive(Debug)]
pub enum OrderAction {
    Pack,
    Ship(ShipInput),
    Deliver,
    Cancel(CancelInput),
}

/// Indian couriers whose public tracking page takes the tracking number in its URL:
/// (name as shown to shoppers, other spellings, URL template with `{}` for the number).
const CARRIERS: &[(&str, &[&str], &str)] = &[
    ("Delhivery", &[], "https://www.delhivery.com/track/package/{}"),
    (
        "Blue Dart",
        &["bluedartexpress"],
        "https://www.bluedart.com/web/guest/trackdartresultthirdparty?trackFor=0&trackNo={}",
    ),
    ("DTDC", &[], "https://www.dtdc.in/tracking.asp?strCnno={}"),
    (
        "India Post",
        &["speedpost", "indiapostspeedpost"],
        "https://www.indiapost.gov.in/_layouts/15/dop.portal.tracking/trackconsignment.aspx?consignmentnumber={}",
    ),
    ("Ekart", &["ekartlogistics"], "https://ekartlogistics.com/shipmenttrack/{}"),
    ("Xpressbees", &[], "https://www.xpressbees.com/shipment/tracking?awbNo={}"),
    ("Shadowfax", &[], "https://tracker.shadowfax.in/#/track/{}"),
    ("Ecom Express", &[], "https://www.ecomexpress.in/tracking/?awb_field={}"),
];

/// Letters and digits only, lower-cased: "Blue Dart", "BLUEDART" and "blue-dart" are one.
fn carrier_key(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters, which is safe in a
/// path segment and in a query value alike.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The carrier's canonical name and public tracking link, for carriers we know; an unknown
/// carrier keeps the name it was given and gets no link.
pub fn tracking_link(carrier: &str, tracking_number: &str) -> (String, Option<String>) {
    let key = carrier_key(carrier);
    CARRIERS
        .iter()
        .find(|(name, aliases, _)| carrier_key(name) == key || aliases.contains(&key.as_str()))
        .map(|(name, _, template)| {
            (
                (*name).to_owned(),
                Some(template.replace("{}", &url_encode(tracking_number))),
            )
        })
        .unwrap_or_else(|| (carrier.to_owned(), None))
}

fn validate(action: OrderAction) -> Result<Change> {
    let mut errors = Vec::new();
    let change = match action {
        OrderAction::Pack => Change::to(OrderStatus::Packed),
        OrderAction::Deliver => Change::to(OrderStatus::Delivered).mail(MailEvent::OrderDelivered),
        OrderAction::Ship(input) => {
            // The customer's mail and the owner's screen show these.
            let number = text::field(
                &mut errors,
                "trackingNumber",
                input.tracking_number.as_deref(),
                Rule::line(64),
            );
            let carrier = text::field(
                &mut errors,
                "carrier",
                input.carrier.as_deref(),
                Rule::line(64),
            );
            let description = text::field(
                &mut errors,
                "description",
                input.description.as_deref(),
                Rule::line(500).optional(),
            );
            let (Some(number), Some(carrier)) = (number, carrier) else {
                return Err(Error::validation(errors));
            };
            let (carrier, url) = tracking_link(&carrier, &number);
            let mut change = Change::to(OrderStatus::Shipped)
                .set("shipping.carrier", carrier)
                .set("shipping.trackingNumber", number)
                .mail(MailEvent::OrderShipped);
            if let Some(url) = url {
                change = change.set("shipping.trackingUrl", url);
            }
            if let Some(d) = description {
                change = change.set("shipping.description", d);
            }
            change
        }
        OrderAction::Cancel(input) => {
            let reason = text::field(
                &mut errors,
                "reason",
                input.reason.as_deref(),
                Rule::line(500).optional(),
            );
            Change::to(OrderStatus::Cancelled)
                .note(reason.unwrap_or_else(|| "cancelled by the shop".into()))
                .mail(MailEvent::OrderCancelled)
        }
    };
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(Error::validation(errors))
    }
}

/// Applies one of the owner's actions through the shared state machine and, once the
/// transaction has committed, tries to send the mail it queued. Repeating the action an
/// order is already in changes nothing and returns the order.
async fn act(app: &AdminShip, id: OrderId, action: OrderAction, by: &str) -> Result<Order> {
    let mut change = validate(action)?.by(by);
    if change.to == OrderStatus::Shipped {
        change = change.invoiced_by(&app.seller);
    }
    let outcome = orders::change(&app.services.db, id, &change).await?;
    if outcome.moved() && !change.mail.is_empty() {
        app.mailer.send_now(&app.services.db, id).await;
    }
    Ok(outcome.into_order())
}

async fn ship_http(
    State(app): State<AdminShip>,
    Admin(user): Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<ShipInput>,
) -> Result<Json<OrderView>> {
    let id = orders::resolve(&app.services.db, &id).await?;
    let order = act(&app, id, OrderAction::Ship(input), user.id.as_str()).await?;
    Ok(Json(order.into()))
}

async fn pack_http(
    State(app): State<AdminShip>,
    Admin(user): Admin,
    Path(id): Path<String>,
    body: JsonBytes,
) -> Result<Json<OrderView>> {
    let id = orders::resolve(&app.services.db, &id).await?;
    let NoInput {} = body.parse_optional()?;
    Ok(Json(
        act(&app, id, OrderAction::Pack, user.id.as_str())
            .await?
            .into(),
    ))
}

async fn deliver_http(
    State(app): State<AdminShip>,
    Admin(user): Admin,
    Path(id): Path<String>,
    body: JsonBytes,
) -> Result<Json<OrderView>> {
    let id = orders::resolve(&app.services.db, &id).await?;
    let NoInput {} = body.parse_optional()?;
    Ok(Json(
        act(&app, id, OrderAction::Deliver, user.id.as_str())
            .await?
            .into(),
    ))
}

async fn cancel_http(
    State(app): State<AdminShip>,
    Admin(user): Admin,
    Path(id): Path<String>,
    body: JsonBytes,
) -> Result<Json<OrderView>> {
    let id = orders::resolve(&app.services.db, &id).await?;
    let input: CancelInput = body.parse_optional()?;
    Ok(Json(
        act(&app, id, OrderAction::Cancel(input), user.id.as_str())
            .await?
            .into(),
    ))
}

async fn refund_http(
    State(services): State<Services>,
    Admin(user): Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    common::platform::http::Json(input): common::platform::http::Json<refund::RefundInput>,
) -> Result<(StatusCode, Json<OrderView>)> {
    let id = orders::resolve(&services.db, &id).await?;
    let key = common::platform::http::idempotency_key(&headers)?;
    let (status, order) = refund::refund(&services, id, &input, user.id.as_str(), key).await?;
    Ok((status, Json(order.into())))
}

async fn refund_preview_http(
    State(services): State<Services>,
    _: Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<refund::RefundInput>,
) -> Result<Json<common::shop::refunds::Preview>> {
    let id = orders::resolve(&services.db, &id).await?;
    Ok(Json(refund::preview(&services, id, &input).await?))
}

async fn invoke(app: &AdminShip, event: Value) -> Value {
    match dispatch(app, event).await {
        Ok(Value::Object(mut body)) => {
            body.insert("ok".into(), true.into());
            Value::Object(body)
        }
        Ok(other) => json!({ "ok": true, "result": other }),
        Err(e) => {
            if let Error::Internal(inner) = &e {
                tracing::error!(error = ?inner, "direct invocation failed");
            }
            let mut error = Map::new();
            error.insert("code".into(), e.code().into());
            error.insert("message".into(), e.detail().into());
            if let Some(errors) = e.to_problem(None).get("errors") {
                error.insert("errors".into(), errors.clone());
            }
            json!({ "ok": false, "error": error })
        }
    }
}

/// A direct invocation's `orderId`: the order's id or its number.
async fn order_named(services: &Services, raw: &str) -> Result<OrderId> {
    if orders::looks_like_number(raw) {
        return orders::resolve(&services.db, raw).await;
    }
    OrderId::from_field("orderId", raw)
}

fn take<T: DeserializeOwned>(fields: &mut Map<String, Value>, key: &str) -> Result<T> {
    let value = fields
        .remove(key)
        .ok_or_else(|| Error::field(key, "is required"))?;
    common::platform::http::parse_json(value.to_string().as_bytes())
}

async fn dispatch(app: &AdminShip, event: Value) -> Result<Value> {
    let services = &app.services;
    let Value::Object(mut fields) = event else {
        return Err(Error::field(
            "body",
            "a direct invocation is a JSON object with an `action`",
        ));
    };
    let action = match fields.remove("action") {
        Some(Value::String(a)) => a,
        _ => return Err(Error::field("action", "is required")),
    };
    let only = |fields: &Map<String, Value>, allowed: &[&str]| -> Result<()> {
        match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::field(k.clone(), "is not a known field")),
            None => Ok(()),
        }
    };
    match action.as_str() {
        "upsertProduct" => {
            only(&fields, &["product"])?;
            let input: ProductInput = take(&mut fields, "product")?;
            let product = upsert_product(&services.db, input, DIRECT_ACTOR).await?;
            Ok(json!({ "product": common::shop::models::ProductView::from(product) }))
        }
        "adjustStock" => catalog_routes::adjust_stock_action(services, fields).await,
        "listOrders" => {
            // The same filters as GET /admin/orders, as fields instead of a query string.
            let mut query = Vec::new();
            for (k, v) in &fields {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Array(a) => a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| x.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => {
                        return Err(Error::field(
                            k.clone(),
                            format!("must be a string, not {other}"),
                        ))
                    }
                };
                query.push(format!("{}={}", url_encode(k), url_encode(&v)));
            }
            let list = desk::list_orders(services, Some(&query.join("&"))).await?;
            Ok(serde_json::to_value(list).map_err(anyhow::Error::from)?)
        }
        "getOrder" => {
            only(&fields, &["orderId"])?;
            let raw: String = take(&mut fields, "orderId")?;
            Ok(json!({ "order": desk::detail(services, &raw).await? }))
        }
        "openStockLedgers" => catalog_routes::open_ledgers_action(services, fields).await,
        "upsertCoupon" => {
            only(&fields, &["coupon"])?;
            let input: CouponInput = take(&mut fields, "coupon")?;
            let coupon = upsert_coupon(&services.db, input).await?;
            Ok(json!({ "coupon": coupon_json(&coupon) }))
        }
        "refund" => {
            let raw: String = take(&mut fields, "orderId")?;
            let id = order_named(services, &raw).await?;
            let key: Option<String> = match fields.remove("idempotencyKey") {
                None | Some(Value::Null) => None,
                Some(Value::String(k)) if (1..=128).contains(&k.len()) => Some(k),
                Some(_) => {
                    return Err(Error::field(
                        "idempotencyKey",
                        "must be a string of 1–128 characters",
                    ))
                }
            };
            let rest = Value::Object(fields).to_string();
            let input: refund::RefundInput = common::platform::http::parse_json(rest.as_bytes())?;
            let (status, order) = refund::refund(services, id, &input, DIRECT_ACTOR, key).await?;
            Ok(json!({ "order": OrderView::from(order), "created": status == StatusCode::CREATED }))
        }
        "ship" | "pack" | "deliver" | "cancel" => {
            let raw: String = take(&mut fields, "orderId")?;
            let id = order_named(services, &raw).await?;
            only(
                &fields,
                match action.as_str() {
                    "ship" => &["trackingNumber", "carrier", "description"],
                    "cancel" => &["reason"],
                    _ => &[],
                },
            )?;
            // What is left are the action's own fields, parsed exactly as the HTTP body is.
            let rest = Value::Object(fields).to_string();
            let action = match action.as_str() {
                "ship" => OrderAction::Ship(common::platform::http::parse_json(rest.as_bytes())?),
                "pack" => {
                    let NoInput {} = common::platform::http::parse_json(rest.as_bytes())?;
                    OrderAction::Pack
                }
                "deliver" => {
                    let NoInput {} = common::platform::http::parse_json(rest.as_bytes())?;
                    OrderAction::Deliver
                }
                _ => OrderAction::Cancel(common::platform::http::parse_json(rest.as_bytes())?),
            };
            let order = act(app, id, action, DIRECT_ACTOR).await?;
            Ok(json!({ "order": OrderView::from(order) }))
        }
        other => Err(Error::field("action", format!("unknown action '{other}'"))),
    }
}

fn coupon_json(c: &common::shop::models::Coupon) -> Value {
    json!({
        "code": c.code,
        "type": c.kind,
        "value": c.value,
        "minOrderValue": c.min_order_value,
        "maxDiscount": c.max_discount,
        "expiresAt": c.expires_at.map(common::shop::models::rfc3339),
        "usageLimit": c.usage_limit,
        "perCustomerLimit": c.per_customer_limit,
        "usedCount": c.used_count,
        "isActive": c.is_active,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_carriers_get_a_link_with_the_number_encoded() {
        let (name, url) = tracking_link("  DELHIVERY ", "1234567890123");
        assert_eq!(name, "Delhivery");
        assert_eq!(
            url.as_deref(),
            Some("https://www.delhivery.com/track/package/1234567890123")
        );
        let (name, url) = tracking_link("blue-dart", "AB 12/34?&x=1");
        assert_eq!(name, "Blue Dart");
        assert!(
            url.unwrap().ends_with("trackNo=AB%2012%2F34%3F%26x%3D1"),
            "reserved characters cannot escape into the URL"
        );
        for carrier in [
            "Delhivery",
            "Blue Dart",
            "DTDC",
            "India Post",
            "Ekart",
            "Xpressbees",
            "Shadowfax",
            "Ecom Express",
        ] {
            let (name, url) = tracking_link(&carrier.to_lowercase(), "X1");
            assert_eq!(name, carrier);
            assert!(url.unwrap().starts_with("https://"), "{carrier}");
        }
    }

    #[test]
    fn unknown_carriers_keep_their_name_and_get_no_link() {
        assert_eq!(
            tracking_link("Raju Couriers", "42"),
            ("Raju Couriers".to_owned(), None)
        );
    }

    #[test]
    fn ship_needs_a_carrier_and_a_number() {
        let err = validate(OrderAction::Ship(ShipInput::default())).unwrap_err();
        let problem = err.to_problem(None);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["trackingNumber", "carrier"]);
    }
}
