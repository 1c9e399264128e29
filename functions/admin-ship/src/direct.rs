//! Direct invocation: the console's and scripts' way in, without HTTP (in AWS, IAM decides who
//! may invoke). An event is one [`Action`], `{"action": "<name>", ...its fields}`; each action
//! calls the same function as the route it mirrors, and its fields are read by that route's
//! own input type, so a refusal names the same fields with the same codes. The answer is
//! `{"ok": true, ...}` or `{"ok": false, "error": {"code", "message", "errors"?}}`.

use crate::catalog::{self, StockInput};
use crate::fulfilment::{self, CancelInput, NoInput, OrderAction, ShipInput};
use crate::orders::{self, ListOrdersInput, OrderQuery};
use crate::refunds::{self, RefundInput};
use crate::{coupons, AdminShip, DIRECT_ACTOR};
use axum::http::StatusCode;
use common::platform::idempotency::IdempotencyKey;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::catalog::ProductInput;
use common::shop::coupons::CouponInput;
use common::shop::order::model::{Order, OrderView};
use common::shop::vocabulary::ids::OrderId;
use common::shop::vocabulary::ids::VariantId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use std::marker::PhantomData;

/// One direct invocation. Each variant flattens the fields it does not name into [`Fields`],
/// read by the route's input type (or [`NoInput`]), which refuses unknown ones: serde cannot
/// deny unknown fields beside a flattened field, and a field error found by the route's type
/// names the field, which an error inside a tagged enum cannot.
#[derive(Debug, Deserialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub(crate) enum Action {
    /// `GET /admin/orders`: the same filters, as fields.
    ListOrders {
        #[serde(flatten)]
        filters: Fields<ListOrdersInput>,
    },
    /// `GET /admin/orders/{id}`.
    GetOrder {
        order_id: OrderRef,
        #[serde(flatten)]
        none: Fields<NoInput>,
    },
    Pack {
        order_id: OrderRef,
        #[serde(flatten)]
        none: Fields<NoInput>,
    },
    Ship {
        order_id: OrderRef,
        #[serde(flatten)]
        input: Fields<ShipInput>,
    },
    Deliver {
        order_id: OrderRef,
        #[serde(flatten)]
        none: Fields<NoInput>,
    },
    Cancel {
        order_id: OrderRef,
        #[serde(flatten)]
        input: Fields<CancelInput>,
    },
    /// `POST /admin/orders/{id}/refund`, the `Idempotency-Key` as a field.
    Refund {
        order_id: OrderRef,
        #[serde(default)]
        idempotency_key: Option<String>,
        #[serde(flatten)]
        input: Fields<RefundInput>,
    },
    UpsertProduct {
        product: Fields<ProductInput>,
        #[serde(flatten)]
        none: Fields<NoInput>,
    },
    /// `POST /admin/products/{id}/variants/{variantId}/stock`, the product named by
    /// `productId` or `slug`; without `variantId`, its only variant (as
    /// `POST /admin/products/{id}/stock`).
    AdjustStock {
        #[serde(default)]
        product_id: Option<String>,
        #[serde(default)]
        slug: Option<String>,
        #[serde(default)]
        variant_id: Option<String>,
        #[serde(flatten)]
        input: Fields<StockInput>,
    },
    OpenStockLedgers {
        #[serde(flatten)]
        none: Fields<NoInput>,
    },
    UpsertCoupon {
        coupon: Fields<CouponInput>,
        #[serde(flatten)]
        none: Fields<NoInput>,
    },
}

/// Some of an action's fields, kept as JSON by the envelope and read as `T` when the action
/// runs: errors then name the field as `T`'s route does (`price`, not `product.price`).
#[derive(Debug)]
pub(crate) struct Fields<T>(Value, PhantomData<T>);

impl<'de, T> Deserialize<'de> for Fields<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Value::deserialize(d).map(|v| Fields(v, PhantomData))
    }
}

impl<T: DeserializeOwned> Fields<T> {
    fn read(self) -> Result<T> {
        common::platform::http::parse_json(self.0.to_string().as_bytes())
    }
}

/// A direct invocation's `orderId`: the order's id or its number.
#[derive(Debug)]
pub(crate) struct OrderRef(String);

impl<'de> Deserialize<'de> for OrderRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = OrderRef;
            // Said in full, since an error inside the tagged enum cannot name its field.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("orderId as a string, the order's id or number")
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<OrderRef, E> {
                Ok(OrderRef(v.to_owned()))
            }
        }
        d.deserialize_str(Text)
    }
}

impl OrderRef {
    async fn resolve(&self, services: &Services) -> Result<OrderId> {
        if common::shop::order::lifecycle::looks_like_number(&self.0) {
            return common::shop::order::lifecycle::resolve(&services.db, &self.0).await;
        }
        OrderId::from_field("orderId", &self.0)
    }
}

impl Action {
    /// Reads an event; anything but a known action with its fields is a typed problem.
    pub(crate) fn parse(event: &Value) -> Result<Action> {
        match event.get("action") {
            _ if !event.is_object() => Err(Error::field(
                "body",
                "a direct invocation is a JSON object with an `action`",
            )),
            Some(Value::String(_)) => {
                common::platform::http::parse_json(event.to_string().as_bytes())
            }
            _ => Err(Error::field("action", "is required")),
        }
    }

    /// Runs the action through the function its route calls, as [`DIRECT_ACTOR`].
    async fn run(self, app: &AdminShip) -> Result<Value> {
        let services = &app.services;
        match self {
            Action::ListOrders { filters } => {
                let query = OrderQuery::try_from(filters.read()?)?;
                let list = orders::list_orders(services, query).await?;
                Ok(serde_json::to_value(list).map_err(anyhow::Error::from)?)
            }
            Action::GetOrder { order_id, none } => {
                let NoInput {} = none.read()?;
                Ok(json!({ "order": orders::detail(services, &order_id.0).await? }))
            }
            Action::Pack { order_id, none } => {
                let NoInput {} = none.read()?;
                fulfil(app, order_id, OrderAction::Pack).await
            }
            Action::Ship { order_id, input } => {
                let action = OrderAction::Ship(input.read()?);
                fulfil(app, order_id, action).await
            }
            Action::Deliver { order_id, none } => {
                let NoInput {} = none.read()?;
                fulfil(app, order_id, OrderAction::Deliver).await
            }
            Action::Cancel { order_id, input } => {
                let action = OrderAction::Cancel(input.read()?);
                fulfil(app, order_id, action).await
            }
            Action::Refund {
                order_id,
                idempotency_key,
                input,
            } => {
                let input: RefundInput = input.read()?;
                let key = IdempotencyKey::from_field("idempotencyKey", idempotency_key)?;
                let id = order_id.resolve(services).await?;
                let (status, order) =
                    refunds::refund(services, id, &input, DIRECT_ACTOR, key).await?;
                Ok(
                    json!({ "order": OrderView::from(order), "created": status == StatusCode::CREATED }),
                )
            }
            Action::UpsertProduct { product, none } => {
                let NoInput {} = none.read()?;
                catalog::upsert(services, product.read()?).await
            }
            Action::AdjustStock {
                product_id,
                slug,
                variant_id,
                input,
            } => {
                let target = catalog::product_named(product_id, slug)?;
                let variant = variant_id
                    .map(|v| VariantId::from_field("variantId", &v))
                    .transpose()?;
                catalog::adjust(services, &target, variant, input.read()?, DIRECT_ACTOR).await
            }
            Action::OpenStockLedgers { none } => {
                let NoInput {} = none.read()?;
                catalog::open_ledgers(services).await
            }
            Action::UpsertCoupon { coupon, none } => {
                let NoInput {} = none.read()?;
                coupons::upsert(services, coupon.read()?).await
            }
        }
    }
}

/// Pack, ship, deliver or cancel, as `POST /admin/orders/{id}/<action>` does.
async fn fulfil(app: &AdminShip, order: OrderRef, action: OrderAction) -> Result<Value> {
    let id = order.resolve(&app.services).await?;
    let order: Order = fulfilment::perform(app, id, action, DIRECT_ACTOR).await?;
    Ok(json!({ "order": OrderView::from(order) }))
}

pub(crate) async fn invoke(app: &AdminShip, event: Value) -> Value {
    let answer = match Action::parse(&event) {
        Ok(action) => action.run(app).await,
        Err(e) => Err(e),
    };
    match answer {
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
