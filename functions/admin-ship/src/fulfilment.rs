//! Fulfilment: the owner packs, ships, delivers or cancels an order
//! (`POST /admin/orders/{id}/pack`, `/ship`, `/deliver`, `/cancel`, and the direct actions of
//! the same names). Every one goes through [`perform`], and so through the shared state
//! machine; shipping gives the carrier's public tracking link and issues the GST invoice.

use crate::{AdminShip, AppState};
use axum::extract::{Path, State};
use axum::routing::{post, MethodRouter};
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::http::JsonBytes;
use common::platform::text::{self, Rule};
use common::platform::{Error, Result};
use common::shop::order::lifecycle;
use common::shop::order::model::{Order, OrderView};
use common::shop::order::transition::{self as order_transition, Actor, Shipment, Transition};
use common::shop::tax::seller::SellerConfig;
use common::shop::vocabulary::ids::OrderId;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders/{id}/ship", post(ship))
        .route(
            "/admin/orders/{id}/pack",
            optional_body(|NoInput {}| OrderAction::Pack),
        )
        .route(
            "/admin/orders/{id}/deliver",
            optional_body(|NoInput {}| OrderAction::Deliver),
        )
        .route(
            "/admin/orders/{id}/cancel",
            optional_body(OrderAction::Cancel),
        )
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

/// The carriers [`tracking_link`] knows, by the name it stores.
pub(crate) fn carrier_names() -> impl Iterator<Item = &'static str> {
    CARRIERS.iter().map(|(name, _, _)| *name)
}

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

/// One of the owner's actions, validated: what its transition is built from.
#[derive(Debug)]
enum Valid {
    Pack,
    Ship(Shipment),
    Deliver,
    Cancel(Option<String>),
}

impl Valid {
    fn transition<'a>(&'a self, seller: &'a SellerConfig, by: &'a str) -> Transition<'a> {
        let by = Actor::Owner(by);
        match self {
            Valid::Pack => Transition::Pack { by },
            Valid::Ship(shipment) => Transition::Ship {
                shipment,
                seller,
                by,
            },
            Valid::Deliver => Transition::Deliver { by },
            Valid::Cancel(reason) => Transition::Cancel {
                reason: reason.as_deref(),
                by,
            },
        }
    }
}

fn validate(action: OrderAction) -> Result<Valid> {
    let mut errors = Vec::new();
    let valid = match action {
        OrderAction::Pack => Valid::Pack,
        OrderAction::Deliver => Valid::Deliver,
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
            let (carrier, tracking_url) = tracking_link(&carrier, &number);
            Valid::Ship(Shipment {
                carrier,
                tracking_number: number,
                tracking_url,
                description,
            })
        }
        OrderAction::Cancel(input) => Valid::Cancel(text::field(
            &mut errors,
            "reason",
            input.reason.as_deref(),
            Rule::line(500).optional(),
        )),
    };
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(Error::validation(errors))
    }
}

/// Applies one of the owner's actions through the order's one writer and, once the
/// transaction has committed, tries to send the mail it queued. Repeating the action an
/// order is already in changes nothing and returns the order. The routes and the direct
/// actions both come here.
pub(crate) async fn perform(
    app: &AdminShip,
    id: OrderId,
    action: OrderAction,
    by: &str,
) -> Result<Order> {
    let valid = validate(action)?;
    let transition = valid.transition(&app.seller, by);
    let outcome = order_transition::apply(&app.services.db, id, &transition).await?;
    if outcome.moved() && !transition.mail().is_empty() {
        app.mailer.send_now(&app.services.db, id).await;
    }
    Ok(outcome.into_order())
}

async fn ship(
    State(app): State<AdminShip>,
    Admin(user): Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<ShipInput>,
) -> Result<Json<OrderView>> {
    let id = lifecycle::resolve(&app.services.db, &id).await?;
    let order = perform(&app, id, OrderAction::Ship(input), user.id.as_str()).await?;
    Ok(Json(order.into()))
}

/// `pack`, `deliver` and `cancel`: the order in the path first (a missing one is a 404
/// whatever the body), then the body, which may be empty: they have no required field.
fn optional_body<I>(to: fn(I) -> OrderAction) -> MethodRouter<AppState>
where
    I: DeserializeOwned + Default + Send + 'static,
{
    post(
        move |State(app): State<AdminShip>,
              Admin(user): Admin,
              Path(id): Path<String>,
              body: JsonBytes| async move {
            let id = lifecycle::resolve(&app.services.db, &id).await?;
            let action = to(body.parse_optional()?);
            let order = perform(&app, id, action, user.id.as_str()).await?;
            Result::<_, Error>::Ok(Json(OrderView::from(order)))
        },
    )
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
