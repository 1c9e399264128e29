//! `make mail-preview`: renders every lifecycle mail from a sample order (markup, emoji and a
//! very long line in the address included) into `<dir>/<event>.html` and `.txt`, so the
//! templates can be checked in a browser and a terminal without sending anything.
//!
//! Usage: cargo run -p shop --example mail_preview [-- <dir>]   (default target/mail-preview)

use shop::messages::mail::{render, sample_order, sample_order_page};
use shop::messages::outbox::MailEvent;
use shop::order::model::PaymentStatus;
use shop::order::status::OrderStatus;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/mail-preview"));
    std::fs::create_dir_all(&dir)?;
    for event in MailEvent::ALL {
        let mut order = sample_order();
        // Each mail as the customer would get it: the order in the state the event announces.
        match event {
            MailEvent::OrderPlaced => {
                order.status = OrderStatus::Created;
                order.payment.status = PaymentStatus::Pending;
                order.payment.paid_at = None;
                order.payment.transaction_id = None;
            }
            MailEvent::PaymentSuccess => order.status = OrderStatus::Paid,
            MailEvent::PaymentFailed => {
                order.status = OrderStatus::PaymentPending;
                order.payment.status = PaymentStatus::Failed;
                order.payment.paid_at = None;
                order.payment.transaction_id = None;
            }
            MailEvent::OrderShipped => order.status = OrderStatus::Shipped,
            MailEvent::OrderDelivered => order.status = OrderStatus::Delivered,
            MailEvent::OrderCancelled => {
                order.status = OrderStatus::Cancelled;
                order.payment.status = PaymentStatus::RefundPending;
            }
            MailEvent::RefundIssued => {
                order.status = OrderStatus::Cancelled;
                order.payment.status = PaymentStatus::Refunded;
            }
        }
        let mail = render(event, &order, &sample_order_page())?;
        let html = dir.join(format!("{}.html", event.as_str()));
        let text = dir.join(format!("{}.txt", event.as_str()));
        std::fs::write(&html, &mail.html)?;
        std::fs::write(
            &text,
            format!("Subject: {}\n\n{}\n", mail.subject, mail.text),
        )?;
        println!("{}  {}", html.display(), text.display());
    }
    Ok(())
}
