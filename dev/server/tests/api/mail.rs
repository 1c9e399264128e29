//! Lifecycle mail through the outbox: against moto (SES emulator) for what customers receive,
//! and against a scripted fake SES for failures, retries and timeouts.
//!
//! Orders are inserted directly and their mails queued with `outbox::enqueue` in a
//! transaction, as the order, payment and shipping handlers do, so these tests depend only on
//! the mail machinery.

use crate::support::TestApp;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use common::shop::messages::mail::{self, Mailer};
use common::shop::messages::outbox::MAIL_OUTBOX;
use common::shop::messages::outbox::{self, MailEvent};
use common::shop::order::model::ORDERS;
use common::shop::order::model::{Order, PaymentStatus};
use common::shop::order::status::OrderStatus;
use common::shop::vocabulary::ids::OrderId;
use mongodb::bson::{doc, DateTime, Document};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SENDER: &str = "orders@pitalya.test";

fn moto_url() -> String {
    const HOW: &str = "mail tests need an SES emulator: `make test` starts one; by hand, run \
        `.venv/bin/moto_server -H 127.0.0.1 -p 4602 &` and export \
        TEST_AWS_ENDPOINT_URL_SES=http://127.0.0.1:4602 AWS_ACCESS_KEY_ID=testing \
        AWS_SECRET_ACCESS_KEY=testing";
    // The SDK reads credentials from the environment, as it does in Lambda; moto accepts any.
    assert!(std::env::var("AWS_ACCESS_KEY_ID").is_ok(), "{HOW}");
    std::env::var("TEST_AWS_ENDPOINT_URL_SES").expect(HOW)
}

fn ses_vars(v: &mut HashMap<String, String>, endpoint: &str, from: &str) {
    v.insert("SES_FROM".into(), from.into());
    v.insert("AWS_ENDPOINT_URL_SES".into(), endpoint.into());
    v.insert("AWS_REGION".into(), "ap-south-1".into());
}

async fn app_with_ses(endpoint: &str, from: &str, reply_to: Option<&str>) -> TestApp {
    TestApp::spawn_with(|v| {
        ses_vars(v, endpoint, from);
        if let Some(r) = reply_to {
            v.insert("SES_REPLY_TO".into(), r.into());
        }
    })
    .await
}

/// Settings that send an app's mail to moto; `verify_moto_sender` once it runs.
pub(crate) fn moto_vars(v: &mut HashMap<String, String>) {
    ses_vars(v, &moto_url(), SENDER);
}

pub(crate) async fn verify_moto_sender(app: &TestApp) {
    mailer(app)
        .ses_client()
        .verify_email_identity()
        .email_address(SENDER)
        .send()
        .await
        .expect("verify the sender in moto");
}

/// An app whose mail goes to moto, from a sender moto has verified.
pub(crate) async fn app_with_moto() -> TestApp {
    let app = app_with_ses(&moto_url(), SENDER, None).await;
    verify_moto_sender(&app).await;
    app
}

fn mailer(app: &TestApp) -> &Mailer {
    &app.functions.mailer
}

fn recipient() -> String {
    format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The sample order (markup, emoji and a long line in the address) with a fresh id, for
/// `email`, just placed and unpaid.
fn new_order(email: &str) -> Order {
    let mut order = mail::sample_order();
    order.id = OrderId::new();
    // Placed "before numbers existed": mails then name the order by its id.
    order.number = None;
    // As a hand-written document may hold it: unchecked, the way it is read back.
    order.email = serde_json::from_value(serde_json::json!(email)).unwrap();
    order.status = OrderStatus::Created;
    order.status_history.truncate(1);
    order.payment.status = PaymentStatus::Pending;
    order.payment.paid_at = None;
    order.payment.transaction_id = None;
    order
}

async fn insert(app: &TestApp, order: &Order) {
    app.services
        .db
        .collection::<Order>(ORDERS)
        .insert_one(order)
        .await
        .unwrap();
}

async fn set_order(app: &TestApp, id: OrderId, fields: Document) {
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(doc! { "_id": id }, doc! { "$set": fields })
        .await
        .unwrap();
}

/// Queues mails the way a state change does: inside a transaction.
async fn queue(app: &TestApp, order_id: OrderId, events: &[MailEvent]) {
    let db = app.services.db.clone();
    let queued: common::platform::Result<()> = common::platform::transaction!(db, |session| {
        for event in events {
            outbox::enqueue(&db, &mut *session, order_id, *event).await?;
        }
        Ok(())
    });
    queued.unwrap();
}

async fn entry(app: &TestApp, order_id: OrderId, event: MailEvent) -> Document {
    app.db()
        .collection::<Document>(MAIL_OUTBOX)
        .find_one(doc! { "orderId": order_id, "event": event.as_str() })
        .await
        .unwrap()
        .expect("outbox entry")
}

/// Makes every pending retry due now, instead of waiting out its backoff.
async fn time_travel(app: &TestApp) {
    app.db()
        .collection::<Document>(MAIL_OUTBOX)
        .update_many(
            doc! { "status": "pending" },
            doc! { "$set": { "nextAttemptAt": DateTime::now() } },
        )
        .await
        .unwrap();
}

/// Seconds from now until the entry's next attempt, to the nearest second.
fn due_in_secs(entry: &Document) -> i64 {
    let next = entry.get_datetime("nextAttemptAt").unwrap();
    (next.timestamp_millis() - DateTime::now().timestamp_millis() + 500).div_euclid(1000)
}

/// What moto has accepted for `to`, oldest first.
pub(crate) async fn moto_messages(to: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t == to))
        })
        .collect()
}

pub(crate) fn subjects(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_lifecycle_event_is_mailed_exactly_once_with_its_details() {
    let app = app_with_moto().await;
    let to = recipient();
    let order = new_order(&to);
    let id = order.id;
    let hex = id.to_hex();
    insert(&app, &order).await;

    queue(&app, id, &[MailEvent::OrderPlaced]).await;
    mailer(&app).send_now(&app.services.db, id).await;

    set_order(
        &app,
        id,
        doc! { "status": "paid", "payment.status": "paid" },
    )
    .await;
    queue(&app, id, &[MailEvent::PaymentSuccess]).await;
    mailer(&app).send_now(&app.services.db, id).await;

    // A handler that retries its transaction queues the same mail again: nothing changes.
    set_order(&app, id, doc! { "status": "shipped" }).await;
    queue(
        &app,
        id,
        &[MailEvent::OrderShipped, MailEvent::PaymentSuccess],
    )
    .await;
    queue(&app, id, &[MailEvent::OrderShipped]).await;
    mailer(&app).send_now(&app.services.db, id).await;

    // Left to the scheduled run, as when the API's immediate attempt did not happen.
    set_order(&app, id, doc! { "status": "delivered" }).await;
    queue(&app, id, &[MailEvent::OrderDelivered]).await;
    let summary = jobs::run_once(&app.jobs()).await;
    assert_eq!(summary["mail"]["sent"], 1, "{summary}");

    // Nothing left to send, however often anyone asks.
    mailer(&app).send_now(&app.services.db, id).await;
    let again = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!(again.sent, 0);

    let messages = moto_messages(&to).await;
    assert_eq!(
        subjects(&messages),
        [
            format!("We have received your Pitalya order {hex}"),
            format!("Your Pitalya order {hex} is confirmed"),
            format!("Your Pitalya order {hex} has shipped"),
            format!("Your Pitalya order {hex} has been delivered"),
        ]
    );
    for m in &messages {
        assert_eq!(m["source"], SENDER);
        let body = m["body"].as_str().unwrap();
        for expected in [
            hex.as_str(),
            "Kuber Brass Urli 🪔",
            "₹1,29,900.00",
            "₹1,33,797.00",
            "-₹13,389.70",
            "₹1,20,407.30",
            "Chennai, Tamil Nadu 600004",
        ] {
            assert!(body.contains(expected), "{expected} missing from {body}");
        }
    }
    let shipped = messages[2]["body"].as_str().unwrap();
    assert!(shipped.contains("Delhivery"));
    assert!(shipped.contains("DLV1234567890"));
    assert!(shipped.contains("href=\"https://www.delhivery.com/track/package/DLV1234567890\""));

    for (event, message) in [
        MailEvent::OrderPlaced,
        MailEvent::PaymentSuccess,
        MailEvent::OrderShipped,
        MailEvent::OrderDelivered,
    ]
    .into_iter()
    .zip(&messages)
    {
        let e = entry(&app, id, event).await;
        assert_eq!(e.get_str("status"), Ok("sent"), "{event:?}: {e}");
        assert_eq!(e.get_i32("attempts"), Ok(1), "{event:?}: {e}");
        assert_eq!(
            e.get_str("sesMessageId").ok(),
            message["id"].as_str(),
            "{event:?}"
        );
        assert!(e.get_datetime("sentAt").is_ok());
        assert!(!e.contains_key("leaseUntil"), "lease left behind: {e}");
    }
    let count = app
        .db()
        .collection::<Document>(MAIL_OUTBOX)
        .count_documents(doc! { "orderId": id })
        .await
        .unwrap();
    assert_eq!(count, 4);
}

#[tokio::test]
async fn cancellation_and_refund_mails_say_what_happens_to_the_money() {
    let app = app_with_moto().await;
    let to = recipient();
    let mut order = new_order(&to);
    order.status = OrderStatus::Cancelled;
    order.payment.status = PaymentStatus::RefundPending;
    order.payment.paid_at = Some(DateTime::now());
    insert(&app, &order).await;

    queue(&app, order.id, &[MailEvent::OrderCancelled]).await;
    mailer(&app).send_now(&app.services.db, order.id).await;
    set_order(&app, order.id, doc! { "payment.status": "refunded" }).await;
    queue(&app, order.id, &[MailEvent::RefundIssued]).await;
    mailer(&app).send_now(&app.services.db, order.id).await;

    let messages = moto_messages(&to).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    let cancelled = messages[0]["body"].as_str().unwrap();
    assert!(messages[0]["subject"]
        .as_str()
        .unwrap()
        .ends_with("has been cancelled"));
    assert!(
        cancelled.contains("You paid ₹1,20,407.30 for this order. We have started a full refund")
    );
    let refund = messages[1]["body"].as_str().unwrap();
    assert!(refund.contains("We have refunded the full ₹1,20,407.30"));

    // An unpaid order's cancellation says nobody was charged.
    let to = recipient();
    let mut unpaid = new_order(&to);
    unpaid.status = OrderStatus::Cancelled;
    insert(&app, &unpaid).await;
    queue(&app, unpaid.id, &[MailEvent::OrderCancelled]).await;
    mailer(&app).send_now(&app.services.db, unpaid.id).await;
    let messages = moto_messages(&to).await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0]["body"]
        .as_str()
        .unwrap()
        .contains("you have not been charged"));
}

#[tokio::test]
async fn an_order_cancelled_before_its_confirmation_went_out_gets_only_the_cancellation() {
    let app = app_with_moto().await;
    let to = recipient();
    let order = new_order(&to);
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
    // SES was unreachable when the order was placed; the order expired before a retry.
    set_order(&app, order.id, doc! { "status": "cancelled" }).await;
    queue(&app, order.id, &[MailEvent::OrderCancelled]).await;
    mailer(&app).send_now(&app.services.db, order.id).await;

    let messages = moto_messages(&to).await;
    assert_eq!(subjects(&messages).len(), 1, "{messages:?}");
    assert!(subjects(&messages)[0].ends_with("has been cancelled"));
    let placed = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(placed.get_str("status"), Ok("skipped"), "{placed}");
    assert!(placed.get_str("skipReason").unwrap().contains("cancelled"));
}

#[tokio::test]
async fn markup_typed_into_the_address_is_escaped_in_the_html_mail() {
    let app = app_with_moto().await;
    let to = recipient();
    let mut order = new_order(&to);
    order.shipping.address.name = "<script>alert('name')</script> Asha".into();
    order.shipping.address.line1 = "<img src=x onerror=alert(1)> 12 Temple Street 🪔".into();
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
    mailer(&app).send_now(&app.services.db, order.id).await;

    let messages = moto_messages(&to).await;
    assert_eq!(messages.len(), 1);
    let html = messages[0]["body"].as_str().unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(&#39;name&#39;)&#60;/script&#62; Asha"));
    assert!(html.contains("&#60;img src=x onerror=alert(1)&#62; 12 Temple Street 🪔"));
}

#[tokio::test]
async fn a_permanent_rejection_is_not_retried() {
    // moto, like SES, rejects mail from a sender that was never verified.
    let unverified = format!(
        "nobody-{}@unverified.example",
        uuid::Uuid::new_v4().simple()
    );
    let app = app_with_ses(&moto_url(), &unverified, None).await;
    let to = recipient();
    let order = new_order(&to);
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
    mailer(&app).send_now(&app.services.db, order.id).await;

    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("failed"), "{e}");
    assert_eq!(e.get_i32("attempts"), Ok(1));
    assert!(
        e.get_str("lastError").unwrap().contains("MessageRejected"),
        "{e}"
    );

    time_travel(&app).await;
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 0));
    assert_eq!(
        entry(&app, order.id, MailEvent::OrderPlaced)
            .await
            .get_i32("attempts"),
        Ok(1)
    );
    assert!(moto_messages(&to).await.is_empty());
}

/// An SES stand-in that answers from a script (then with success) and records every request.
#[derive(Default)]
struct FakeSes {
    script: Mutex<VecDeque<(u16, &'static str)>>,
    requests: Mutex<Vec<HashMap<String, String>>>,
}

const SES_500: (u16, &str) = (
    500,
    "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>\
     <Message>Service unavailable</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
);
const SES_THROTTLED: (u16, &str) = (
    400,
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
     <Message>Maximum sending rate exceeded.</Message></Error><RequestId>r2</RequestId></ErrorResponse>",
);

async fn fake_ses(script: Vec<(u16, &'static str)>) -> (String, Arc<FakeSes>) {
    let fake = Arc::new(FakeSes {
        script: Mutex::new(script.into()),
        ..FakeSes::default()
    });
    async fn answer(State(fake): State<Arc<FakeSes>>, body: String) -> impl IntoResponse {
        let uri: Uri = format!("/?{body}").parse().unwrap();
        let form = Query::<HashMap<String, String>>::try_from_uri(&uri)
            .unwrap()
            .0;
        let n = {
            let mut requests = fake.requests.lock().unwrap();
            requests.push(form);
            requests.len()
        };
        let next = fake.script.lock().unwrap().pop_front();
        let (status, body) = match next {
            Some((status, body)) => (status, body.to_owned()),
            None => (
                200,
                format!(
                    "<SendEmailResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">\
                     <SendEmailResult><MessageId>fake-{n}</MessageId></SendEmailResult>\
                     <ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata>\
                     </SendEmailResponse>"
                ),
            ),
        };
        (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "text/xml")],
            body,
        )
    }
    let router = axum::Router::new()
        .fallback(answer)
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, fake)
}

/// A TCP relay in front of `target` that counts the connections made through it.
async fn counting_relay(target: &str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let target = target.trim_start_matches("http://").to_owned();
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, count)
}

/// Found by the benchmark: orders' memory grew by ~0.1 MB per checkout. Each send right
/// after a commit set a connect timeout cut to its remaining budget, a new value every call,
/// and the SDK keeps one HTTP client per distinct timeout setting: a new client, connection
/// and TLS handshake for every mail, never freed.
#[tokio::test]
async fn immediate_sends_reuse_one_connection_to_ses() {
    let (fake_url, fake) = fake_ses(vec![]).await;
    let (url, connections) = counting_relay(&fake_url).await;
    let app = app_with_ses(&url, SENDER, None).await;
    for _ in 0..5 {
        let order = new_order(&recipient());
        insert(&app, &order).await;
        queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
        mailer(&app).send_now(&app.services.db, order.id).await;
    }
    assert_eq!(fake.requests.lock().unwrap().len(), 5);
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "every mail opened its own connection to SES"
    );
}

#[tokio::test]
async fn ses_errors_are_retried_with_backoff_until_the_mail_goes_out() {
    let (url, fake) = fake_ses(vec![SES_500, SES_THROTTLED]).await;
    let app = app_with_ses(&url, SENDER, Some("care@pitalya.test")).await;
    let to = recipient();
    let order = new_order(&to);
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;

    mailer(&app).send_now(&app.services.db, order.id).await;
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("pending"), "{e}");
    assert_eq!(e.get_i32("attempts"), Ok(1));
    assert!(e
        .get_str("lastError")
        .unwrap()
        .contains("ServiceUnavailable"));
    assert!((28..=30).contains(&due_in_secs(&e)), "{e}");

    // Not due yet: a run right away leaves it alone.
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!((report.sent, report.retried), (0, 0));
    assert_eq!(fake.requests.lock().unwrap().len(), 1);

    time_travel(&app).await;
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!((report.sent, report.retried), (0, 1));
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_i32("attempts"), Ok(2));
    assert!(e.get_str("lastError").unwrap().contains("Throttling"));
    assert!((58..=60).contains(&due_in_secs(&e)), "{e}");

    time_travel(&app).await;
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!((report.sent, report.retried), (1, 0));
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("sent"));
    assert_eq!(e.get_i32("attempts"), Ok(3));
    assert_eq!(e.get_str("sesMessageId"), Ok("fake-3"));

    let requests = fake.requests.lock().unwrap();
    assert_eq!(requests.len(), 3);
    let sent = &requests[2];
    assert_eq!(sent["Action"], "SendEmail");
    assert_eq!(sent["Source"], SENDER);
    assert_eq!(sent["Destination.ToAddresses.member.1"], to);
    assert_eq!(sent["ReplyToAddresses.member.1"], "care@pitalya.test");
    for part in ["Subject", "Body.Html", "Body.Text"] {
        assert_eq!(sent[&format!("Message.{part}.Charset")], "UTF-8", "{part}");
    }
    let text = &sent["Message.Body.Text.Data"];
    assert!(text.contains("Total: ₹1,20,407.30"), "{text}");
    assert!(
        text.contains("Asha <script>alert('x')</script> Iyer 🌸"),
        "{text}"
    );
    assert!(sent["Message.Body.Html.Data"].contains("Asha &#60;script&#62;"));
}

#[tokio::test]
async fn unreachable_ses_is_retried_until_the_attempt_cap_then_the_mail_is_failed() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let app = app_with_ses(&closed, SENDER, None).await;
    let order = new_order(&recipient());
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::PaymentSuccess]).await;

    let mut waits = Vec::new();
    for attempt in 1..=mail::MAX_ATTEMPTS {
        time_travel(&app).await;
        let report = mailer(&app).deliver_due(&app.services.db, 100).await;
        let e = entry(&app, order.id, MailEvent::PaymentSuccess).await;
        assert_eq!(e.get_i32("attempts"), Ok(attempt as i32), "{e}");
        if attempt < mail::MAX_ATTEMPTS {
            assert_eq!(report.retried, 1, "attempt {attempt}");
            assert_eq!(e.get_str("status"), Ok("pending"));
            waits.push(due_in_secs(&e));
        } else {
            assert_eq!(report.failed, 1);
            assert_eq!(e.get_str("status"), Ok("failed"), "{e}");
            assert!(e.get_str("lastError").is_ok_and(|m| !m.is_empty()));
        }
    }
    let expected = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600];
    assert_eq!(waits.len(), expected.len());
    for (wait, secs) in waits.iter().zip(expected) {
        assert!((secs - 2..=secs).contains(wait), "waits {waits:?}");
    }

    time_travel(&app).await;
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!((report.retried, report.failed), (0, 0));
}

#[tokio::test]
async fn a_send_ses_never_answers_is_left_unconfirmed_within_the_budget_and_never_repeated() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = app_with_ses(&url, SENDER, None).await;
    let order = new_order(&recipient());
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;

    let started = Instant::now();
    mailer(&app).send_now(&app.services.db, order.id).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(3_500),
        "send_now took {took:?}"
    );

    // The request went out and SES never answered: it may have taken the mail, so it is
    // not sent again (that could mail the customer twice) but left for on-call, alarmed.
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("unconfirmed"), "{e}");
    assert_eq!(e.get_i32("attempts"), Ok(1));
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!(report.sent + report.retried, 0);
    assert_eq!(
        jobs::measure_backlog(&app.jobs())
            .await
            .unwrap()
            .mail_failed,
        1
    );
}

#[tokio::test]
async fn a_live_lease_is_respected_and_an_expired_one_is_taken_over() {
    let app = app_with_moto().await;
    let to = recipient();
    let order = new_order(&to);
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
    let lease = |until_ms: i64| {
        doc! { "$set": {
            "status": "sending",
            "attempts": 1,
            "leaseToken": "another-run",
            "leaseUntil": DateTime::from_millis(DateTime::now().timestamp_millis() + until_ms),
        } }
    };
    let outbox = app.db().collection::<Document>(MAIL_OUTBOX);

    outbox
        .update_one(doc! { "orderId": order.id }, lease(60_000))
        .await
        .unwrap();
    mailer(&app).send_now(&app.services.db, order.id).await;
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!(report.sent, 0);
    assert!(moto_messages(&to).await.is_empty());

    // The other run died holding it; once the lease runs out the mail is not lost.
    outbox
        .update_one(doc! { "orderId": order.id }, lease(-1_000))
        .await
        .unwrap();
    let report = mailer(&app).deliver_due(&app.services.db, 100).await;
    assert_eq!(report.sent, 1);
    assert_eq!(moto_messages(&to).await.len(), 1);
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("sent"));
    assert_eq!(e.get_i32("attempts"), Ok(2));
}

/// Found by the invariant suite (SIGKILL during sends): a sender that died after handing the
/// mail to SES left an expired lease, and the next run sent the mail again. Now the entry
/// says which side of the SES call its holder died on, and the unknown side is never resent.
#[tokio::test]
async fn a_mail_whose_sender_died_mid_send_is_never_sent_twice() {
    let app = app_with_moto().await;
    let to = recipient();
    let order = new_order(&to);
    insert(&app, &order).await;
    queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
    let db = &app.services.db;
    // A real send, then the sender "dies" before recording it: the state a SIGKILL leaves.
    assert_eq!(mailer(&app).deliver_due(db, 100).await.sent, 1);
    let past = DateTime::from_millis(DateTime::now().timestamp_millis() - 1_000);
    app.db()
        .collection::<Document>(MAIL_OUTBOX)
        .update_one(
            doc! { "orderId": order.id },
            doc! { "$set": { "status": "sending", "leaseToken": "dead-run", "leaseUntil": past, "dispatchedAt": past } },
        )
        .await
        .unwrap();

    let report = mailer(&app).deliver_due(db, 100).await;
    mailer(&app).send_now(db, order.id).await;
    assert_eq!(report.sent, 0);
    assert_eq!(moto_messages(&to).await.len(), 1, "the mail went out twice");
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("unconfirmed"), "{e}");
    assert!(!e.contains_key("leaseUntil"), "{e}");
    // On-call's resend (status back to pending) goes through, once.
    app.db()
        .collection::<Document>(MAIL_OUTBOX)
        .update_one(
            doc! { "orderId": order.id },
            doc! { "$set": { "status": "pending", "nextAttemptAt": past }, "$unset": { "dispatchedAt": "" } },
        )
        .await
        .unwrap();
    assert_eq!(mailer(&app).deliver_due(db, 100).await.sent, 1);
    assert_eq!(moto_messages(&to).await.len(), 2);
    let e = entry(&app, order.id, MailEvent::OrderPlaced).await;
    assert_eq!(e.get_str("status"), Ok("sent"));
    assert!(!e.contains_key("dispatchedAt"), "{e}");
}

#[tokio::test]
async fn racing_drains_and_immediate_sends_deliver_each_mail_exactly_once_and_in_order() {
    let app = app_with_moto().await;
    let mut orders = Vec::new();
    for _ in 0..8 {
        let to = recipient();
        let mut order = new_order(&to);
        order.status = OrderStatus::Paid;
        insert(&app, &order).await;
        queue(&app, order.id, &[MailEvent::OrderPlaced]).await;
        queue(&app, order.id, &[MailEvent::PaymentSuccess]).await;
        orders.push((order.id, to));
    }
    let db = &app.services.db;
    let m = mailer(&app);

    let drains = futures::future::join_all((0..3).map(|_| m.deliver_due(db, 100)));
    let immediate = futures::future::join_all(orders.iter().map(|(id, _)| m.send_now(db, *id)));
    let (reports, _) = tokio::join!(drains, immediate);
    let mut sent_by_drains: u32 = reports.iter().map(|r| r.sent).sum();
    // Mails that waited behind their order's first mail go out on later runs.
    for _ in 0..5 {
        time_travel(&app).await;
        sent_by_drains += m.deliver_due(db, 100).await.sent;
    }

    let mut total = 0;
    for (id, to) in &orders {
        let hex = id.to_hex();
        assert_eq!(
            subjects(&moto_messages(to).await),
            [
                format!("We have received your Pitalya order {hex}"),
                format!("Your Pitalya order {hex} is confirmed"),
            ],
            "{to}"
        );
        for event in [MailEvent::OrderPlaced, MailEvent::PaymentSuccess] {
            let e = entry(&app, *id, event).await;
            assert_eq!(e.get_str("status"), Ok("sent"), "{e}");
            total += 1;
        }
    }
    assert_eq!(total, 16);
    assert!(sent_by_drains <= 16);
}

#[tokio::test]
async fn a_payment_failed_mail_is_skipped_once_the_order_is_paid_or_paid_again() {
    let app = app_with_moto().await;
    for later in [
        doc! { "status": "paid", "payment.status": "paid" },
        doc! { "status": "payment_pending", "payment.status": "pending" },
        doc! { "status": "cancelled" },
    ] {
        let to = recipient();
        let order = new_order(&to);
        let id = order.id;
        insert(&app, &order).await;
        set_order(&app, id, doc! { "payment.status": "failed" }).await;
        queue(&app, id, &[MailEvent::PaymentFailed]).await;
        set_order(&app, id, later.clone()).await;
        mailer(&app).send_now(&app.services.db, id).await;
        let e = entry(&app, id, MailEvent::PaymentFailed).await;
        assert_eq!(e.get_str("status"), Ok("skipped"), "{later}: {e}");
        assert!(moto_messages(&to).await.is_empty(), "{later}");
    }
}
