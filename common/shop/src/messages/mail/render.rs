//! Turning an order and an event into a subject, an HTML body and a plain-text body.
//!
//! The templates live in `common/shop/templates/mail/` and are compiled in. `.html` templates are
//! HTML-escaped by askama, so anything the customer or the owner typed (names, addresses,
//! product names, cancellation reasons) cannot inject markup; `.txt` templates are not
//! escaped, so plain-text mail shows `<` as `<` rather than `&lt;`.

use crate::messages::outbox::MailEvent;
use crate::order::model::refund::Refund;
pub use crate::order::model::sample_order;
use crate::order::model::{Order, PaymentStatus};
use crate::order::status::OrderStatus;
use askama::Template;
use chrono::{DateTime as ChronoDateTime, FixedOffset};
use integrations::ses::Mail;
use mongodb::bson::DateTime;
use platform::config::PaymentRedirect;

pub const BRAND: &str = "Pitalya";

/// Renders the mail for `event` from the order as it is now; `order_page` is the storefront's
/// page of an order, which a mail links to.
pub fn render(
    event: MailEvent,
    order: &Order,
    order_page: &PaymentRedirect,
) -> askama::Result<Mail> {
    render_for(event, order, None, order_page)
}

/// Renders the mail for `event`; a refund mail names the one refund it announces (an order
/// may be refunded in parts).
pub fn render_for(
    event: MailEvent,
    order: &Order,
    refund: Option<&Refund>,
    order_page: &PaymentRedirect,
) -> askama::Result<Mail> {
    let v = View::of(event, order, refund, order_page);
    let subject = subject(event, order, refund);
    let s = subject.as_str();
    let v = &v;
    let (html, text) = match event {
        MailEvent::OrderPlaced => (
            OrderPlacedHtml { v, subject: s }.render()?,
            OrderPlacedText { v }.render()?,
        ),
        MailEvent::PaymentSuccess => (
            PaymentSuccessHtml { v, subject: s }.render()?,
            PaymentSuccessText { v }.render()?,
        ),
        MailEvent::PaymentFailed => (
            PaymentFailedHtml { v, subject: s }.render()?,
            PaymentFailedText { v }.render()?,
        ),
        MailEvent::OrderShipped => (
            OrderShippedHtml { v, subject: s }.render()?,
            OrderShippedText { v }.render()?,
        ),
        MailEvent::OrderDelivered => (
            OrderDeliveredHtml { v, subject: s }.render()?,
            OrderDeliveredText { v }.render()?,
        ),
        MailEvent::OrderCancelled => (
            OrderCancelledHtml { v, subject: s }.render()?,
            OrderCancelledText { v }.render()?,
        ),
        MailEvent::RefundIssued => (
            RefundIssuedHtml { v, subject: s }.render()?,
            RefundIssuedText { v }.render()?,
        ),
    };
    Ok(Mail {
        subject,
        html,
        text,
    })
}

/// Subjects carry only the brand, the order id and amounts, never user-typed text, so a
/// name cannot turn a subject line into something else.
pub fn subject(event: MailEvent, order: &Order, refund: Option<&Refund>) -> String {
    let id = order.display_number();
    match event {
        MailEvent::OrderPlaced => format!("We have received your {BRAND} order {id}"),
        MailEvent::PaymentSuccess => format!("Your {BRAND} order {id} is confirmed"),
        MailEvent::PaymentFailed => {
            format!("Your payment for {BRAND} order {id} did not go through")
        }
        MailEvent::OrderShipped => format!("Your {BRAND} order {id} has shipped"),
        MailEvent::OrderDelivered => format!("Your {BRAND} order {id} has been delivered"),
        MailEvent::OrderCancelled => format!("Your {BRAND} order {id} has been cancelled"),
        MailEvent::RefundIssued => format!(
            "Your refund of {} for {BRAND} order {id} has been issued",
            refunded(order, refund).format_inr()
        ),
    }
}

/// What every template sees: display strings only, computed once here so the templates hold
/// no logic beyond `if let` and `for`.
struct View {
    brand: &'static str,
    order_number: String,
    placed_on: String,
    customer_name: String,
    items: Vec<ItemView>,
    subtotal: String,
    discount: Option<String>,
    coupon_code: Option<String>,
    /// Shown only when charged, so an order's lines always add up to its total.
    shipping_fee: Option<String>,
    total: String,
    address_lines: Vec<String>,
    phone: String,
    /// When the order reached the state this mail announces (shipped, delivered, cancelled).
    event_date: Option<String>,
    carrier: Option<String>,
    tracking_number: Option<String>,
    tracking_url: Option<String>,
    transaction_id: Option<String>,
    /// A zero-total order, paid the moment it was placed: no payment to confirm.
    nothing_to_pay: bool,
    reason: Option<String>,
    money_note: String,
    /// The storefront's page of the order, where the customer can pay (again).
    order_url: String,
}

struct ItemView {
    name: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
}

impl View {
    fn of(
        event: MailEvent,
        order: &Order,
        refund: Option<&Refund>,
        order_page: &PaymentRedirect,
    ) -> View {
        let a = &order.shipping.address;
        let mut address_lines = vec![a.name.clone(), a.line1.clone()];
        address_lines.extend(a.line2.clone().filter(|l| !l.trim().is_empty()));
        address_lines.push(format!("{}, {} {}", a.city, a.state, a.pincode));
        address_lines.push(match a.country.as_str() {
            "IN" | "" => "India".to_owned(),
            other => other.to_owned(),
        });
        let announced = match event {
            MailEvent::OrderShipped => Some(OrderStatus::Shipped),
            MailEvent::OrderDelivered => Some(OrderStatus::Delivered),
            MailEvent::OrderCancelled => Some(OrderStatus::Cancelled),
            _ => None,
        };
        let last_change = |status: OrderStatus| {
            order
                .status_history
                .iter()
                .rev()
                .find(|c| c.status == status)
        };
        let event_date = announced.and_then(&last_change).map(|c| india_date(c.at));
        let reason = last_change(OrderStatus::Cancelled)
            .and_then(|c| c.note.clone())
            .filter(|n| !n.trim().is_empty());
        let shipping = &order.shipping;
        View {
            brand: BRAND,
            order_number: order.display_number(),
            placed_on: india_date(order.created_at),
            customer_name: first_name(&a.name),
            items: order
                .items
                .iter()
                .map(|i| ItemView {
                    name: i.display_name(),
                    quantity: i.quantity,
                    unit_price: i.price.format_inr(),
                    line_total: i.line_total.format_inr(),
                })
                .collect(),
            subtotal: order.subtotal.format_inr(),
            discount: (order.discount.get() > 0).then(|| order.discount.format_inr()),
            coupon_code: order.coupon_code.clone(),
            shipping_fee: (order.shipping_fee.get() > 0).then(|| order.shipping_fee.format_inr()),
            total: order.total.format_inr(),
            address_lines,
            phone: a.phone.clone(),
            event_date,
            carrier: shipping.carrier.clone(),
            tracking_number: shipping.tracking_number.clone(),
            // Escaping stops markup but not a `javascript:` link, so only web links are linked.
            tracking_url: shipping
                .tracking_url
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            transaction_id: order.payment.transaction_id.clone(),
            nothing_to_pay: order.payment.status == PaymentStatus::NotRequired,
            reason,
            money_note: money_note(event, order, refund),
            // By its number, as everywhere in mail; every order route takes either.
            order_url: order_page.for_order(&order.display_number()),
        }
    }
}

/// The amount a refund mail announces: its refund's, or the whole order's.
fn refunded(order: &Order, refund: Option<&Refund>) -> crate::vocabulary::money::Paise {
    refund.map_or(order.total, |r| r.amount)
}

/// What the customer needs to know about their money when an order is cancelled or refunded.
fn money_note(event: MailEvent, order: &Order, refund: Option<&Refund>) -> String {
    let total = order.total.format_inr();
    let amount = refunded(order, refund);
    let paid = order.payment.paid_at.is_some()
        || matches!(
            order.payment.status,
            PaymentStatus::Paid | PaymentStatus::RefundPending | PaymentStatus::Refunded
        );
    match (event, order.payment.status) {
        (MailEvent::RefundIssued, _) if amount != order.total => format!(
            "We have refunded {} of your {total} order to the account you paid from through \
             PhonePe. Depending on your bank it can take 5 to 7 working days to show in your \
             statement.",
            amount.format_inr()
        ),
        (MailEvent::RefundIssued, _) | (MailEvent::OrderCancelled, PaymentStatus::Refunded) => {
            format!(
                "We have refunded the full {total} to the account you paid from through PhonePe. \
                 Depending on your bank it can take 5 to 7 working days to show in your statement."
            )
        }
        (MailEvent::OrderCancelled, _) if paid => format!(
            "You paid {total} for this order. We have started a full refund to the account you \
             paid from through PhonePe, and we will email you again once it has been issued. \
             Your bank may take 5 to 7 working days to show it."
        ),
        (MailEvent::OrderCancelled, _) => "No payment was completed for this order, so you have \
             not been charged. If your bank shows a debit for it, it will be reversed \
             automatically, usually within 5 to 7 working days."
            .to_owned(),
        (MailEvent::PaymentFailed, _) => "No money was taken for this attempt. If your bank \
             shows a debit for it, it will be reversed automatically, usually within 5 to 7 \
             working days."
            .to_owned(),
        _ => String::new(),
    }
}

/// Customers read dates in India Standard Time, whatever the server's clock says.
fn india_date(t: DateTime) -> String {
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("valid offset");
    ChronoDateTime::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or_default()
        .with_timezone(&ist)
        .format("%-d %B %Y")
        .to_string()
}

fn first_name(full: &str) -> String {
    full.split_whitespace()
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("there")
        .to_owned()
}

macro_rules! templates {
    ($($html:ident $html_path:literal, $text:ident $text_path:literal;)*) => {$(
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            v: &'a View,
            subject: &'a str,
        }

        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            v: &'a View,
        }
    )*};
}

templates! {
    OrderPlacedHtml "mail/order_placed.html", OrderPlacedText "mail/order_placed.txt";
    PaymentSuccessHtml "mail/payment_success.html", PaymentSuccessText "mail/payment_success.txt";
    PaymentFailedHtml "mail/payment_failed.html", PaymentFailedText "mail/payment_failed.txt";
    OrderShippedHtml "mail/order_shipped.html", OrderShippedText "mail/order_shipped.txt";
    OrderDeliveredHtml "mail/order_delivered.html", OrderDeliveredText "mail/order_delivered.txt";
    OrderCancelledHtml "mail/order_cancelled.html", OrderCancelledText "mail/order_cancelled.txt";
    RefundIssuedHtml "mail/refund_issued.html", RefundIssuedText "mail/refund_issued.txt";
}

/// The storefront's order page previews and tests link to.
pub fn sample_order_page() -> PaymentRedirect {
    PaymentRedirect {
        url: "https://shop.pitalya.example/orders/{orderId}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::money::Paise;

    fn render(event: MailEvent, order: &Order) -> askama::Result<Mail> {
        super::render(event, order, &sample_order_page())
    }

    #[test]
    fn the_payment_failed_mail_links_back_to_the_order_page_to_pay_again() {
        let mut order = sample_order();
        order.status = OrderStatus::PaymentPending;
        order.payment.status = PaymentStatus::Failed;
        order.payment.transaction_id = None;
        order.payment.paid_at = None;
        let mail = render(MailEvent::PaymentFailed, &order).unwrap();
        assert_eq!(
            mail.subject,
            "Your payment for Pitalya order PIT-1042 did not go through"
        );
        let link = "https://shop.pitalya.example/orders/PIT-1042";
        assert!(
            mail.html.contains(&format!("href=\"{link}\"")),
            "{}",
            mail.html
        );
        assert!(
            mail.text.contains(&format!("Pay for your order: {link}")),
            "{}",
            mail.text
        );
        for part in [&mail.html, &mail.text] {
            assert!(part.contains("₹1,20,407.30"), "{part}");
            assert!(part.contains("No money was taken"), "{part}");
        }

        // The page comes from a setting: whatever it holds stays inside the attribute.
        let odd = PaymentRedirect {
            url: "https://shop.example/pay?o={orderId}&from=mail\"><script>x</script>".into(),
        };
        let mail = super::render(MailEvent::PaymentFailed, &order, &odd).unwrap();
        assert!(!mail.html.contains("\"><script>"), "{}", mail.html);
        assert!(
            !mail.html.contains("&from"),
            "an ampersand is escaped in HTML"
        );
        assert!(mail
            .text
            .contains("https://shop.example/pay?o=PIT-1042&from=mail"));
    }

    fn all(order: &Order) -> Vec<(MailEvent, Mail)> {
        MailEvent::ALL
            .into_iter()
            .map(|e| (e, render(e, order).expect("renders")))
            .collect()
    }

    #[test]
    fn html_escapes_what_users_typed_and_text_does_not() {
        let order = sample_order();
        for (event, mail) in all(&order) {
            assert!(
                !mail.html.contains("<script>"),
                "{event:?} html: raw script"
            );
            assert!(
                mail.html.contains("&#60;script&#62;") || mail.html.contains("&lt;script&gt;"),
                "{event:?} html lacks the escaped script"
            );
            assert!(!mail.html.contains("<Set of 2>"), "{event:?} product name");
            assert!(
                mail.text
                    .contains("Asha <script>alert('x')</script> Iyer 🌸"),
                "{event:?} text must show the address verbatim:\n{}",
                mail.text
            );
            assert!(
                mail.text.contains("Brass Diya <Set of 2> & \"Wick\" Pack"),
                "{event:?}"
            );
            assert!(!mail.text.contains("&#"), "{event:?} text was escaped");
        }
    }

    #[test]
    fn amounts_are_formatted_the_indian_way_in_both_parts() {
        let order = sample_order();
        for (event, mail) in all(&order) {
            for part in [&mail.html, &mail.text] {
                assert!(part.contains("₹1,29,900.00"), "{event:?} unit price");
                assert!(part.contains("₹1,33,797.00"), "{event:?} subtotal");
                assert!(part.contains("-₹13,389.70"), "{event:?} discount");
                assert!(part.contains("₹1,20,407.30"), "{event:?} total");
                assert!(part.contains("WELCOME10"), "{event:?} coupon");
                assert!(part.contains("PIT-1042"), "{event:?} number");
                assert!(
                    !part.contains("65f0a1b2c3d4e5f601234567"),
                    "{event:?} no raw id"
                );
                assert!(part.contains("12 March 2025"), "{event:?} date");
            }
        }
    }

    #[test]
    fn no_discount_line_without_a_discount() {
        let mut order = sample_order();
        order.discount = Paise::ZERO;
        order.coupon_code = None;
        let mail = render(MailEvent::OrderPlaced, &order).unwrap();
        assert!(!mail.text.contains("Discount"), "{}", mail.text);
        assert!(!mail.html.contains("Discount"));
    }

    #[test]
    fn a_shipping_fee_is_a_line_of_its_own_and_free_shipping_is_none() {
        let mut order = sample_order();
        assert!(!render(MailEvent::OrderPlaced, &order)
            .unwrap()
            .text
            .contains("Shipping:"));
        order.shipping_fee = Paise(4_900);
        order.total = order.total + order.shipping_fee;
        let mail = render(MailEvent::OrderPlaced, &order).unwrap();
        assert!(mail.text.contains("Shipping: ₹49.00"), "{}", mail.text);
        assert!(mail.text.contains("Total: ₹1,20,456.30"), "{}", mail.text);
        assert!(mail.html.contains("₹49.00"));
    }

    #[test]
    fn a_zero_total_order_is_confirmed_without_claiming_a_payment() {
        let mut order = sample_order();
        order.discount = order.subtotal;
        order.total = Paise::ZERO;
        order.payment.provider = "none".into();
        order.payment.status = PaymentStatus::NotRequired;
        order.payment.transaction_id = None;
        let mail = render(MailEvent::PaymentSuccess, &order).unwrap();
        for part in [&mail.html, &mail.text] {
            assert!(part.contains("nothing to pay"), "{part}");
            assert!(!part.contains("received your payment"), "{part}");
        }
    }

    #[test]
    fn shipped_mail_carries_carrier_tracking_number_and_link() {
        let order = sample_order();
        let mail = render(MailEvent::OrderShipped, &order).unwrap();
        assert_eq!(mail.subject, "Your Pitalya order PIT-1042 has shipped");
        for part in [&mail.html, &mail.text] {
            assert!(part.contains("Delhivery"));
            assert!(part.contains("DLV1234567890"));
            assert!(part.contains("https://www.delhivery.com/track/package/DLV1234567890"));
            assert!(part.contains("14 March 2025"), "shipped date");
        }
        assert!(mail
            .html
            .contains("href=\"https://www.delhivery.com/track/package/DLV1234567890\""));
    }

    #[test]
    fn a_tracking_link_that_is_not_a_web_link_is_not_linked() {
        let mut order = sample_order();
        order.shipping.tracking_url = Some("javascript:alert(1)".into());
        let mail = render(MailEvent::OrderShipped, &order).unwrap();
        assert!(!mail.html.contains("javascript:"));
        assert!(!mail.text.contains("javascript:"));
        assert!(mail.text.contains("DLV1234567890"));
    }

    #[test]
    fn cancelled_and_refund_mails_say_what_happens_to_the_money() {
        let mut order = sample_order();
        order.status = OrderStatus::Cancelled;
        let paid = render(MailEvent::OrderCancelled, &order).unwrap();
        assert!(paid.text.contains("started a full refund"), "{}", paid.text);
        assert!(paid
            .text
            .contains("Reason: Customer asked: <b>wrong size</b> 🙏"));
        assert!(!paid.html.contains("<b>wrong size</b>"));

        order.payment.status = PaymentStatus::Pending;
        order.payment.paid_at = None;
        let unpaid = render(MailEvent::OrderCancelled, &order).unwrap();
        assert!(unpaid.text.contains("not been charged"), "{}", unpaid.text);

        let refund = render(MailEvent::RefundIssued, &sample_order()).unwrap();
        assert!(refund
            .text
            .contains("We have refunded the full ₹1,20,407.30"));
        assert_eq!(
            refund.subject,
            "Your refund of ₹1,20,407.30 for Pitalya order PIT-1042 has been issued"
        );
    }

    #[test]
    fn subjects_name_the_brand_and_the_order() {
        let order = sample_order();
        for (event, mail) in all(&order) {
            assert!(mail.subject.contains("Pitalya"), "{event:?}");
            assert!(mail.subject.contains("PIT-1042"), "{event:?}");
            assert!(!mail.subject.contains('\n'));
        }
        assert_eq!(
            render(MailEvent::PaymentSuccess, &order).unwrap().subject,
            "Your Pitalya order PIT-1042 is confirmed"
        );
    }
}
