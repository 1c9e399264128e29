//! GST tax invoices and credit notes: issued in the transaction that ships an order or
//! completes its refund, numbered without gaps or repeats whatever runs at once or aborts,
//! served to the order's owner and the shop's owner as JSON and PDF, and mailed as PDFs.

use crate::orders::{count, create, fill_cart, order_body};
use crate::support::{TestApp, SELLER_GSTIN};
use base64::Engine;
use common::shop::invoices::{CREDIT_NOTES, INVOICES};
use common::shop::order::model::refund::RefundLine;
use common::shop::order::model::ORDERS;
use common::shop::refunds::{self, OwnerRefund, Verdict};
use common::shop::tax::financial_year;
use common::shop::vocabulary::ids::{OrderId, ProductId};
use futures::future::join_all;
use mongodb::bson::{doc, oid::ObjectId, Document};
use serde_json::{json, Value};

fn fy() -> String {
    financial_year(chrono::Utc::now())
}

fn number(prefix: &str, seq: u32) -> String {
    format!("{prefix}/{}/{seq:06}", fy())
}

/// A product with its own HSN code and GST rate; returns its id.
async fn taxed_product(app: &TestApp, slug: &str, price: i64, hsn: &str, rate: i64) -> ObjectId {
    let res = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": {
            "name": format!("Brass {slug}"), "slug": slug, "price": price, "stock": 1000,
            "hsn": hsn, "gstRate": rate,
        }}))
        .await;
    assert_eq!(res["ok"], true, "{res}");
    ObjectId::parse_str(res["product"]["id"].as_str().unwrap()).unwrap()
}

/// An order placed through checkout by `user` and marked paid through PhonePe.
async fn paid_order(app: &TestApp, user: &str, lines: &[(ObjectId, i64)], email: &str) -> String {
    let mut body = order_body();
    body["email"] = json!(email);
    paid_order_with(app, user, lines, body).await
}

/// `paid_order` with the checkout's own body (another buyer's name, say).
async fn paid_order_with(
    app: &TestApp,
    user: &str,
    lines: &[(ObjectId, i64)],
    body: Value,
) -> String {
    fill_cart(app, user, lines).await;
    let res = create(app, user, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let oid = ObjectId::parse_str(&id).unwrap();
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": oid },
            doc! { "$set": {
                "status": "paid",
                "payment.status": "paid",
                "payment.provider": "phonepe",
                "payment.merchantOrderId": format!("M-{id}"),
                "payment.transactionId": format!("T-{id}"),
            } },
        )
        .await
        .unwrap();
    id
}

/// A shipped, invoiced order (one urli to Chennai); its number, `PIT-…`.
pub async fn shipped_order_number(app: &TestApp) -> String {
    let urli = taxed_product(app, "lambda-urli", 250_000, "7418", 1200).await;
    let id = paid_order(app, "user_lambda_pdf", &[(urli, 1)], "asha@example.com").await;
    let res = ship(app, &id).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["number"].as_str().unwrap().to_owned()
}

async fn ship(app: &TestApp, id: &str) -> crate::support::Resp {
    app.post(
        &format!("/admin/orders/{id}/ship"),
        Some(&app.admin_token()),
        json!({ "trackingNumber": "1234567890123", "carrier": "Delhivery" }),
    )
    .await
}

async fn invoice_number(app: &TestApp, id: &str) -> Option<String> {
    let oid = ObjectId::parse_str(id).unwrap();
    app.db()
        .collection::<Document>(INVOICES)
        .find_one(doc! { "orderId": oid })
        .await
        .unwrap()
        .map(|d| d.get_str("number").unwrap().to_owned())
}

async fn get_bytes(app: &TestApp, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.bytes().await.unwrap().to_vec())
}

/// The PDF's text as `pdftotext` extracts it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("pitalya-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; `make tools` installs it)");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn shipping_issues_exactly_one_invoice_numbered_from_one() {
    let app = TestApp::spawn().await;
    let urli = taxed_product(&app, "urli-1", 249_900, "74181022", 1200).await;
    let diya = taxed_product(&app, "diya-1", 49_900, "9405", 500).await;
    let first = paid_order(&app, "user_inv_a", &[(urli, 1), (diya, 2)], "a@example.com").await;
    let second = paid_order(&app, "user_inv_a", &[(diya, 1)], "a@example.com").await;
    let token = app.token("user_inv_a");

    let before = app
        .get(&format!("/orders/{first}/invoice"), Some(&token))
        .await;
    before.problem(404, "INVOICE_NOT_FOUND");

    ship(&app, &first).await.ok();
    assert_eq!(invoice_number(&app, &first).await, Some(number("PIT", 1)));
    // Shipping again changes nothing, and issues nothing.
    ship(&app, &first).await.ok();
    assert_eq!(count(&app, INVOICES, doc! {}).await, 1);
    ship(&app, &second).await.ok();
    assert_eq!(invoice_number(&app, &second).await, Some(number("PIT", 2)));

    let order = app.get(&format!("/orders/{first}"), Some(&token)).await;
    let order_number = order.ok()["number"].as_str().unwrap().to_owned();
    // By id or by number.
    for key in [first.as_str(), order_number.as_str()] {
        let inv = app
            .get(&format!("/orders/{key}/invoice"), Some(&token))
            .await;
        let inv = inv.ok();
        assert_eq!(inv["number"], number("PIT", 1));
        assert_eq!(inv["order"]["number"], order_number);
        assert_eq!(inv["seller"]["gstin"], SELLER_GSTIN);
        assert_eq!(
            inv["seller"]["state"],
            json!({ "code": "33", "name": "Tamil Nadu" })
        );
        assert_eq!(inv["buyer"]["name"], "Asha Iyer");
        assert_eq!(inv["buyer"]["phone"], "+919876543210");
        assert_eq!(inv["placeOfSupply"]["code"], "33");
        assert_eq!(inv["reverseCharge"], "No");
        assert_eq!(inv["lines"][0]["hsn"], "74181022");
        assert_eq!(inv["lines"][1]["hsn"], "9405");
        assert_eq!(inv["lines"][1]["quantity"], 2);
        assert_eq!(inv["totals"]["total"], order.body["total"]);
        assert_eq!(
            inv["amountInWords"],
            "Rupees Three Thousand Four Hundred Ninety-Seven Only"
        );
        assert!(inv["date"].as_str().unwrap().len() == 10);
    }

    // Another customer's order looks like none; so does an admin's view of the customer route.
    app.get(
        &format!("/orders/{first}/invoice"),
        Some(&app.token("user_inv_b")),
    )
    .await
    .problem(404, "ORDER_NOT_FOUND");
    let (status, _, _) = get_bytes(
        &app,
        &format!("/orders/{first}/invoice.pdf"),
        &app.token("user_inv_b"),
    )
    .await;
    assert_eq!(status, 404);
    // The owner sees it under /admin, with no credit notes yet.
    let admin = app
        .get(
            &format!("/admin/orders/{order_number}/invoice"),
            Some(&app.admin_token()),
        )
        .await;
    assert_eq!(admin.ok()["number"], number("PIT", 1));
    assert_eq!(admin.body["creditNotes"], json!([]));
    // The order desk shows it, and the accountant's export names it.
    let desk = app
        .get(&format!("/admin/orders/{first}"), Some(&app.admin_token()))
        .await;
    assert_eq!(desk.ok()["invoice"]["number"], number("PIT", 1));
    let csv = app
        .http
        .get(format!("{}/admin/orders/export.csv", app.base))
        .query(&[
            ("status", "shipped".to_owned()),
            (
                "from",
                (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
            ),
        ])
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = csv
        .lines()
        .find(|l| l.contains(&order_number))
        .expect("the order's row");
    assert!(row.contains(&format!(",{},", number("PIT", 1))), "{row}");
}

/// Found by review: the contract's Order carries `invoice: {number, issuedAt}` once invoiced,
/// but only the owner's detail said which invoice an order had, and the ship answer did not.
#[tokio::test]
async fn every_answer_about_a_shipped_order_names_its_invoice() {
    let app = TestApp::spawn().await;
    let urli = taxed_product(&app, "urli-stamp", 249_900, "74181022", 1200).await;
    let id = paid_order(&app, "user_stamp", &[(urli, 1)], "s@example.com").await;
    let token = app.token("user_stamp");
    let admin = app.admin_token();

    let before = app.get(&format!("/orders/{id}"), Some(&token)).await;
    assert!(before.ok().get("invoice").is_none(), "{}", before.body);
    let detail = app.get(&format!("/admin/orders/{id}"), Some(&admin)).await;
    assert_eq!(detail.ok()["invoice"], Value::Null);

    let shipped = ship(&app, &id).await;
    let stamp = shipped.ok()["invoice"].clone();
    assert_eq!(
        stamp["number"],
        number("PIT", 1),
        "the ship answer: {}",
        shipped.body
    );
    let issued_at = stamp["issuedAt"].as_str().unwrap().to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&issued_at).is_ok(),
        "{issued_at}"
    );
    let invoice = app
        .get(&format!("/orders/{id}/invoice"), Some(&token))
        .await;
    assert_eq!(invoice.ok()["issuedAt"], issued_at.as_str());

    let want = json!({ "number": number("PIT", 1), "issuedAt": issued_at });
    let own = app.get(&format!("/orders/{id}"), Some(&token)).await;
    assert_eq!(own.ok()["invoice"], want, "GET /orders/{{id}}");
    let mine = app.get("/orders/my", Some(&token)).await;
    assert_eq!(mine.ok()["items"][0]["invoice"], want, "GET /orders/my");
    let listed = app.get("/admin/orders", Some(&admin)).await;
    assert_eq!(
        listed.ok()["items"][0]["invoice"],
        want,
        "GET /admin/orders"
    );
    // The owner's detail carries the whole invoice, which names the same number and time.
    let detail = app.get(&format!("/admin/orders/{id}"), Some(&admin)).await;
    assert_eq!(detail.ok()["invoice"]["number"], number("PIT", 1));
    assert_eq!(detail.body["invoice"]["issuedAt"], issued_at.as_str());
    assert!(detail.body["invoice"]["lines"].is_array());
    // Shipping again is a no-op that still names the invoice.
    assert_eq!(ship(&app, &id).await.ok()["invoice"], want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ships_take_consecutive_numbers_with_no_gap_or_repeat() {
    let app = TestApp::spawn().await;
    let p = taxed_product(&app, "urli-c", 99_900, "7418", 1200).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(paid_order(&app, &format!("user_inv_c{i}"), &[(p, 1)], "c@example.com").await);
    }
    // Every ship at once, some of them twice.
    let ships = ids
        .iter()
        .chain(ids.iter().take(3))
        .map(|id| ship(&app, id));
    for res in join_all(ships).await {
        assert_eq!(res.status, 200, "{}", res.body);
    }
    let mut numbers = Vec::new();
    for id in &ids {
        numbers.push(
            invoice_number(&app, id)
                .await
                .expect("every shipped order is invoiced"),
        );
    }
    numbers.sort();
    let want: Vec<String> = (1..=10).map(|n| number("PIT", n)).collect();
    assert_eq!(numbers, want);
    assert_eq!(count(&app, INVOICES, doc! {}).await, 10);
}

#[tokio::test]
async fn a_ship_that_is_refused_or_aborts_leaves_no_gap() {
    let app = TestApp::spawn().await;
    let p = taxed_product(&app, "urli-g", 99_900, "7418", 1200).await;
    let a = paid_order(&app, "user_inv_g", &[(p, 1)], "g@example.com").await;
    let b = paid_order(&app, "user_inv_g", &[(p, 2)], "g@example.com").await;

    // Refused before anything is written: no carrier.
    let res = app
        .post(
            &format!("/admin/orders/{a}/ship"),
            Some(&app.admin_token()),
            json!({ "trackingNumber": "1" }),
        )
        .await;
    res.problem(400, "VALIDATION_FAILED");
    // Refused by the state machine: an unpaid order cannot ship.
    fill_cart(&app, "user_inv_g", &[(p, 1)]).await;
    let unpaid = create(&app, "user_inv_g", order_body(), None).await;
    let unpaid = unpaid.body["id"].as_str().unwrap().to_owned();
    assert_eq!(ship(&app, &unpaid).await.status, 409);

    // Issued, then the transaction aborts: the number goes back with it.
    let db = app.services.db.clone();
    let seller = (*app.functions.seller).clone();
    let oid = ObjectId::parse_str(&a).unwrap();
    let aborted: common::platform::Result<()> = common::platform::transaction!(db, |session| {
        let order = common::shop::order::lifecycle::load_in(&db, session, OrderId(oid)).await?;
        let inv = common::shop::invoices::issue_in(&db, session, &order, &seller).await?;
        assert_eq!(inv.number, number("PIT", 1));
        // Any refusal after issuing aborts the transaction; this one stands for them all.
        Err(common::platform::Error::new(
            common::platform::problem_codes::ProblemCode::InvalidTransition,
            "abort after issuing",
        ))
    });
    assert_eq!(aborted.unwrap_err().code(), "INVALID_TRANSITION");
    assert_eq!(count(&app, INVOICES, doc! {}).await, 0);

    ship(&app, &b).await.ok();
    ship(&app, &a).await.ok();
    assert_eq!(invoice_number(&app, &b).await, Some(number("PIT", 1)));
    assert_eq!(invoice_number(&app, &a).await, Some(number("PIT", 2)));
    assert_eq!(invoice_number(&app, &unpaid).await, None);
}

#[tokio::test]
async fn the_pdf_is_a4_and_its_text_has_the_number_the_gstin_and_every_hsn() {
    let app = TestApp::spawn().await;
    // ₹1,29,900 and more: the lakh grouping shows.
    let urli = taxed_product(&app, "urli-p", 12_990_000, "74181022", 1200).await;
    let diya = taxed_product(&app, "diya-p", 49_950, "9405", 500).await;
    let lamp = taxed_product(&app, "lamp-p", 10_000, "940510", 1800).await;
    let id = paid_order(
        &app,
        "user_inv_p",
        &[(urli, 1), (diya, 1), (lamp, 3)],
        "p@example.com",
    )
    .await;
    ship(&app, &id).await.ok();

    let (status, kind, pdf) = get_bytes(
        &app,
        &format!("/orders/{id}/invoice.pdf"),
        &app.token("user_inv_p"),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for want in [
        number("PIT", 1).as_str(),
        SELLER_GSTIN,
        "74181022",
        "9405",
        "940510",
        "TAX INVOICE",
        "Reverse charge",
        "Tamil Nadu (code 33)",
        "Asha Iyer",
        "₹1,30,",
        "Rupees One Lakh Thirty Thousand",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    let (status, kind, admin_pdf) = get_bytes(
        &app,
        &format!("/admin/orders/{id}/invoice.pdf"),
        &app.admin_token(),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(pdf_text(&admin_pdf).contains(&number("PIT", 1)));
}

/// A refund of `lines` decided by the owner and completed by PhonePe.
async fn refund_completed(
    app: &TestApp,
    id: &str,
    lines: Option<Vec<RefundLine>>,
    amount: Option<i64>,
) -> String {
    let oid = OrderId(ObjectId::parse_str(id).unwrap());
    let decided = refunds::decide(
        &app.services.db,
        oid,
        &OwnerRefund {
            amount: amount.map(common::shop::Paise),
            lines,
            restock: false,
            reason: "damaged in transit".into(),
            by: "user_admin_1".into(),
            idempotency: None,
        },
    )
    .await
    .unwrap();
    let order = match decided {
        refunds::Decided::Created(o) | refunds::Decided::Replayed(o) => o,
    };
    let refund = order.refunds.last().unwrap().merchant_refund_id.clone();
    let settled = refunds::settle(&app.services.db, &refund, &Verdict::Completed, None)
        .await
        .unwrap();
    assert!(
        matches!(settled, refunds::Settled::Completed(_)),
        "{settled:?}"
    );
    refund
}

#[tokio::test]
async fn a_completed_refund_of_an_invoiced_order_issues_a_credit_note_in_its_own_series() {
    let app = TestApp::spawn().await;
    let urli = taxed_product(&app, "urli-r", 249_900, "74181022", 1200).await;
    let diya = taxed_product(&app, "diya-r", 49_900, "9405", 500).await;
    let id = paid_order(&app, "user_inv_r", &[(urli, 2), (diya, 1)], "r@example.com").await;
    let never_shipped = paid_order(&app, "user_inv_r", &[(diya, 1)], "r@example.com").await;
    ship(&app, &id).await.ok();
    let invoice = app
        .get(
            &format!("/orders/{id}/invoice"),
            Some(&app.token("user_inv_r")),
        )
        .await
        .ok()
        .clone();

    // A refund of an order that was never invoiced issues nothing.
    refund_completed(&app, &never_shipped, None, Some(10_000)).await;
    assert_eq!(count(&app, CREDIT_NOTES, doc! {}).await, 0);

    let one_urli = vec![RefundLine {
        product_id: ProductId(urli),
        variant_id: None,
        quantity: 1,
    }];
    let refund = refund_completed(&app, &id, Some(one_urli), None).await;
    let notes =
        common::shop::invoices::credit_notes(&app.services.db, OrderId::from_path(&id).unwrap())
            .await
            .unwrap();
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    assert_eq!(note.number, number("PCN", 1));
    assert_eq!(note.invoice.number, number("PIT", 1));
    assert_eq!(note.refund_id, refund);
    assert_eq!(note.lines.len(), 1);
    assert_eq!(note.lines[0].hsn.as_ref().unwrap().as_str(), "74181022");
    assert_eq!(note.lines[0].quantity, Some(1));
    // Half the invoiced line, with half its tax.
    let line = &invoice["lines"][0];
    let half = |k: &str| line[k].as_i64().unwrap() as f64 / 2.0;
    assert!((note.totals.total.get() as f64 - half("total")).abs() <= 1.0);
    assert!((note.totals.cgst.get() as f64 - half("cgst")).abs() <= 1.0);
    assert_eq!(
        note.totals.taxable_value + note.totals.total_tax,
        note.totals.total
    );
    let stored = app
        .db()
        .collection::<Document>(ORDERS)
        .find_one(doc! { "_id": ObjectId::parse_str(&id).unwrap() })
        .await
        .unwrap()
        .unwrap();
    let refunded = stored
        .get_array("refunds")
        .unwrap()
        .last()
        .unwrap()
        .as_document()
        .unwrap()
        .get_i64("amount")
        .unwrap();
    assert_eq!(
        note.totals.total.get(),
        refunded,
        "the note says what was refunded"
    );

    // A second refund, by amount: the next number.
    refund_completed(&app, &id, None, Some(20_050)).await;
    let admin = app
        .get(
            &format!("/admin/orders/{id}/invoice"),
            Some(&app.admin_token()),
        )
        .await;
    let listed = admin.ok()["creditNotes"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["number"], number("PCN", 2));
    assert_eq!(listed[1]["total"], 20_050);

    let path = listed[0]["pdf"].as_str().unwrap();
    let (status, kind, pdf) = get_bytes(&app, path, &app.admin_token()).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"), "{path}");
    let text = pdf_text(&pdf);
    for want in [
        number("PCN", 1),
        number("PIT", 1),
        SELLER_GSTIN.into(),
        "74181022".into(),
    ] {
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
    let (status, _, _) = get_bytes(
        &app,
        &format!("/admin/orders/{id}/credit-notes/PCN-2627-999999.pdf"),
        &app.admin_token(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_refund_completed_before_shipping_is_credited_when_the_invoice_is_issued() {
    let app = TestApp::spawn().await;
    let urli = taxed_product(&app, "urli-b", 249_900, "74181022", 1200).await;
    let id = paid_order(&app, "user_inv_b4", &[(urli, 3)], "b4@example.com").await;
    let one = vec![RefundLine {
        product_id: ProductId(urli),
        variant_id: None,
        quantity: 1,
    }];
    let refund = refund_completed(&app, &id, Some(one), None).await;
    assert_eq!(
        count(&app, CREDIT_NOTES, doc! {}).await,
        0,
        "nothing invoiced yet"
    );

    ship(&app, &id).await.ok();
    let notes =
        common::shop::invoices::credit_notes(&app.services.db, OrderId::from_path(&id).unwrap())
            .await
            .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].number, number("PCN", 1));
    assert_eq!(notes[0].invoice.number, number("PIT", 1));
    assert_eq!(notes[0].refund_id, refund);
    assert_eq!(notes[0].totals.total.get(), 249_900);
}

/// Raw mails (with attachments) moto has accepted for `to`.
async fn raw_mails(to: &str) -> Vec<String> {
    let url = std::env::var("TEST_AWS_ENDPOINT_URL_SES").unwrap();
    let data: Value = reqwest::get(format!("{url}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["destinations"].to_string().contains(to))
        .map(|m| m["raw_data"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The base64 body of the attachment named `file` in a raw MIME message.
fn attachment(raw: &str, file: &str) -> Vec<u8> {
    let start = raw
        .find(&format!("filename=\"{file}\""))
        .unwrap_or_else(|| panic!("{file} not attached"));
    let body = &raw[start..];
    let body = &body[body.find("\r\n\r\n").unwrap() + 4..];
    let b64: String = body
        .lines()
        .take_while(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap()
}

#[tokio::test]
async fn the_shipped_mail_attaches_the_invoice_and_the_refund_mail_the_credit_note() {
    let app = crate::mail::app_with_moto().await;
    let to = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
    let urli = taxed_product(&app, "urli-m", 249_900, "74181022", 1200).await;
    let id = paid_order(&app, "user_inv_m", &[(urli, 1)], &to).await;
    ship(&app, &id).await.ok();

    let raws = raw_mails(&to).await;
    assert_eq!(raws.len(), 1, "the shipped mail, sent raw");
    let file = format!("PIT-{}-000001.pdf", fy());
    let pdf = attachment(&raws[0], &file);
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf_text(&pdf).contains(&number("PIT", 1)));
    assert!(raws[0].contains("Content-Type: application/pdf"));

    refund_completed(&app, &id, None, Some(50_000)).await;
    app.functions
        .mailer
        .send_now(&app.services.db, OrderId::from_path(&id).unwrap())
        .await;
    let raws = raw_mails(&to).await;
    assert_eq!(raws.len(), 2, "and the refund mail");
    let pdf = attachment(&raws[1], &format!("PCN-{}-000001.pdf", fy()));
    let text = pdf_text(&pdf);
    assert!(
        text.contains(&number("PCN", 1)) && text.contains(&number("PIT", 1)),
        "{text}"
    );
}

/// Buyers named in the scripts of India (and one emoji), each once on an invoice.
const NAMES: [&str; 6] = [
    "आशा अय्यर",
    "ஆஷா ஐயர்",
    "আশা আইয়ার",
    "આશા ઐયર",
    "ఆశా అయ్యర్",
    // Without the optional shadda (ایّر): pdftotext's bidi pass moves Arabic marks out of
    // place (the page shows them right); Urdu is written without them as a rule.
    "آشا ائیر",
];

#[tokio::test]
async fn invoices_and_credit_notes_print_names_in_indian_scripts_that_extract_exactly() {
    let app = TestApp::spawn().await;
    // A product named in Hindi, with conjuncts (स्त, र्म), a vowel sign drawn before its consonant
    // (ि), and an emoji; made as the owner makes one.
    let diya = "पीतल का दीया, हस्तनिर्मित 🪔";
    let res = app
        .post(
            "/admin/products",
            Some(&app.admin_token()),
            json!({ "name": diya, "slug": "peetal-diya", "price": 49_900, "stock": 100,
                    "hsn": "9405", "gstRate": 500 }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let product = ObjectId::parse_str(res.body["id"].as_str().unwrap()).unwrap();

    let mut first = None;
    for (i, name) in NAMES.into_iter().enumerate() {
        // A buyer each: checkout is rate-limited per customer.
        let user = &format!("user_inv_scripts_{i}");
        let mut body = order_body();
        body["shippingAddress"]["name"] = json!(name);
        body["email"] = json!("scripts@example.com");
        let id = paid_order_with(&app, user, &[(product, 1)], body).await;
        ship(&app, &id).await.ok();
        let (status, _, pdf) =
            get_bytes(&app, &format!("/orders/{id}/invoice.pdf"), &app.token(user)).await;
        assert_eq!(status, 200);
        let text = pdf_text(&pdf);
        for want in [name, diya, &number("PIT", i as u32 + 1)] {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
        first.get_or_insert(id);
    }

    let id = first.unwrap();
    let (_, _, pdf) = get_bytes(
        &app,
        &format!("/admin/orders/{id}/invoice.pdf"),
        &app.admin_token(),
    )
    .await;
    assert!(pdf_text(&pdf).contains(NAMES[0]));
    refund_completed(&app, &id, None, Some(10_000)).await;
    let listed = app
        .get(
            &format!("/admin/orders/{id}/invoice"),
            Some(&app.admin_token()),
        )
        .await
        .ok()["creditNotes"]
        .clone();
    let (status, _, pdf) =
        get_bytes(&app, listed[0]["pdf"].as_str().unwrap(), &app.admin_token()).await;
    assert_eq!(status, 200);
    let text = pdf_text(&pdf);
    for want in [NAMES[0], diya, &number("PCN", 1)] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
}
