//! GST tax invoices and credit notes: immutable snapshots drawn from an order's locked-in tax
//! when it ships, and from a completed refund of an invoiced order.
//!
//! Numbers are `{prefix}/{FY}/{seq}` and must be consecutive with no gaps, which the order
//! numbers' counter (incremented outside any transaction) cannot promise. Here the counter of
//! a series (one document per prefix and financial year) is incremented *inside* the
//! transaction that issues the document: a transaction that aborts takes its increment with
//! it, and two transactions issuing at once both write that one document, so one of them
//! conflicts and runs again after the other committed. Issuing is serialised per series,
//! which is the price of having no gaps; everything else in a ship stays concurrent.
//!
//! A document is never changed once issued. What it shows comes from the order as placed
//! (its `tax`), the seller settings of the issuing function and, for a credit note, its
//! invoice: a later price change, address edit or new GSTIN cannot alter what was issued.

pub mod pdf;

use crate::order::model::refund::Refund;
use crate::order::model::Order;
use crate::tax::seller::SellerConfig;
use crate::tax::{
    amount_in_words, document_number, financial_year, DocumentPrefix, GstRate, GstState, Hsn,
    OrderTax,
};
use crate::vocabulary::address::Address;
use crate::vocabulary::ids::{OrderId, UserId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::{now, rfc3339};
use chrono::{DateTime as ChronoDateTime, FixedOffset, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, DateTime};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::{is_duplicate_key, Db, IndexSpec, COUNTERS};
use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// GST tax invoices, one per shipped order, never changed once issued.
pub const INVOICES: &str = "invoices";
/// GST credit notes, one per completed refund of an invoiced order.
pub const CREDIT_NOTES: &str = "credit_notes";

pub fn indexes() -> Vec<IndexSpec> {
    // A number is issued once, an order invoiced once, a refund credited once.
    vec![
        IndexSpec::unique(INVOICES, doc! { "number": 1 }),
        IndexSpec::unique(INVOICES, doc! { "orderId": 1 }),
        IndexSpec::unique(CREDIT_NOTES, doc! { "number": 1 }),
        IndexSpec::unique(CREDIT_NOTES, doc! { "refundId": 1 }),
        IndexSpec::plain(CREDIT_NOTES, doc! { "orderId": 1, "at": 1 }),
    ]
}

/// Printed on every document: this shop never supplies under reverse charge.
pub const REVERSE_CHARGE: &str = "No";

/// A party to the supply as the document names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub name: String,
    /// The seller's; buyers are consumers without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gstin: Option<String>,
    pub address: String,
    pub state: GstState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// One row of a document. Prices are tax-inclusive, as the shop sells: `quantity ×
/// unitPrice − discount = total = taxableValue + cgst + sgst + igst`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub description: String,
    /// Absent on the shipping line, which is taxed as part of the goods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsn: Option<Hsn>,
    /// Absent on a credit note's share of an amount refunded without lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The variant sold; absent on documents issued before variants, whose lines were one
    /// per product (the variant's id being the product's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    /// What the owner reads to find the item on the shelf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Paise>,
    pub discount: Paise,
    pub taxable_value: Paise,
    pub rate: GstRate,
    pub cgst: Paise,
    pub sgst: Paise,
    pub igst: Paise,
    pub total: Paise,
}

impl Line {
    /// Which variant the line sold, as credit notes count units: see `variant_id`.
    fn variant_key(&self) -> Option<&str> {
        self.variant_id.as_deref().or(self.product_id.as_deref())
    }

    pub fn tax(&self) -> Paise {
        self.cgst + self.sgst + self.igst
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub taxable_value: Paise,
    pub cgst: Paise,
    pub sgst: Paise,
    pub igst: Paise,
    pub total_tax: Paise,
    pub total: Paise,
}

impl Totals {
    fn of<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Totals {
        let mut t = Totals {
            taxable_value: Paise::ZERO,
            cgst: Paise::ZERO,
            sgst: Paise::ZERO,
            igst: Paise::ZERO,
            total_tax: Paise::ZERO,
            total: Paise::ZERO,
        };
        for l in lines {
            t.taxable_value = t.taxable_value + l.taxable_value;
            t.cgst = t.cgst + l.cgst;
            t.sgst = t.sgst + l.sgst;
            t.igst = t.igst + l.igst;
            t.total = t.total + l.total;
        }
        t.total_tax = t.cgst + t.sgst + t.igst;
        t
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRef {
    pub id: String,
    pub number: String,
}

/// The invoice as issued: what `GET …/invoice` returns and the PDF prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub number: String,
    /// The date of issue in India time, `YYYY-MM-DD`.
    pub date: String,
    pub issued_at: String,
    pub financial_year: String,
    pub order: OrderRef,
    pub seller: Party,
    pub buyer: Party,
    pub place_of_supply: GstState,
    pub inter_state: bool,
    pub reverse_charge: String,
    pub lines: Vec<Line>,
    pub shipping: Line,
    pub totals: Totals,
    pub amount_in_words: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRef {
    pub number: String,
    pub date: String,
}

/// A credit note as issued, against one invoice, for one completed refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditNote {
    pub number: String,
    pub date: String,
    pub issued_at: String,
    pub financial_year: String,
    pub invoice: InvoiceRef,
    pub order: OrderRef,
    /// The refund's `merchantRefundId`.
    pub refund_id: String,
    pub reason: String,
    pub seller: Party,
    pub buyer: Party,
    pub place_of_supply: GstState,
    pub inter_state: bool,
    pub reverse_charge: String,
    pub lines: Vec<Line>,
    pub totals: Totals,
    pub amount_in_words: String,
}

/// An invoice as stored: the snapshot and what finds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredInvoice {
    #[serde(rename = "_id")]
    id: ObjectId,
    order_id: OrderId,
    user_id: UserId,
    at: DateTime,
    /// The series its credit notes are numbered in, fixed with the invoice so that a refund
    /// settled by a function that reads no seller settings (jobs, the webhook) can issue
    /// one: a credit note belongs to the supplier and the invoice it corrects.
    credit_note_prefix: String,
    #[serde(flatten)]
    invoice: Invoice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredCreditNote {
    #[serde(rename = "_id")]
    id: ObjectId,
    order_id: OrderId,
    user_id: UserId,
    at: DateTime,
    #[serde(flatten)]
    note: CreditNote,
}

pub fn invoice_not_found() -> Error {
    Error::new(
        ProblemCode::InvoiceNotFound,
        "This order has no tax invoice yet: it is issued when the order ships",
    )
}

pub fn credit_note_not_found() -> Error {
    Error::new(
        ProblemCode::CreditNoteNotFound,
        "No such credit note on this order",
    )
}

/// `PIT/2627/000001` as a file name: `PIT-2627-000001.pdf`.
pub fn file_name(number: &str) -> String {
    format!("{}.pdf", number.replace('/', "-"))
}

fn india_date(at: DateTime) -> String {
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("IST is a valid offset");
    ChronoDateTime::<Utc>::from_timestamp_millis(at.timestamp_millis())
        .unwrap_or_default()
        .with_timezone(&ist)
        .format("%Y-%m-%d")
        .to_string()
}

fn chrono_utc(at: DateTime) -> ChronoDateTime<Utc> {
    ChronoDateTime::<Utc>::from_timestamp_millis(at.timestamp_millis()).unwrap_or_default()
}

fn one_line(a: &Address) -> String {
    let mut parts = vec![a.line1.as_str()];
    if let Some(l2) = a.line2.as_deref().filter(|l| !l.trim().is_empty()) {
        parts.push(l2);
    }
    parts.push(a.city.as_str());
    format!("{}, {} {}", parts.join(", "), a.state, a.pincode)
}

fn seller_party(seller: &SellerConfig) -> Party {
    Party {
        name: seller.name.clone(),
        gstin: Some(seller.gstin.as_str().to_owned()),
        address: seller.address.clone(),
        state: seller.gstin.state_code().into(),
        phone: None,
    }
}

/// The invoice of `order` as issued at `at` under `number`: a pure function of what checkout
/// locked in, so the document agrees with the order to the paisa.
pub fn draw_invoice(
    order: &Order,
    tax: &OrderTax,
    seller: &SellerConfig,
    number: String,
    at: DateTime,
) -> Result<Invoice> {
    let mut lines = Vec::with_capacity(order.items.len());
    for (i, item) in order.items.iter().enumerate() {
        // Taxed line by line in the items' order; two variants of one product are two lines.
        let t = tax
            .lines
            .get(i)
            .filter(|l| l.product_id == item.product_id)
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "order {}: no tax line for product {}",
                    order.id,
                    item.product_id
                ))
            })?;
        lines.push(Line {
            description: item.display_name(),
            hsn: Some(t.hsn.clone()),
            product_id: Some(item.product_id.to_hex()),
            variant_id: Some(item.variant_id.to_hex()),
            sku: item.sku.clone(),
            quantity: Some(item.quantity),
            unit_price: Some(item.price),
            discount: item.line_total - t.value(),
            taxable_value: t.taxable_value,
            rate: t.rate,
            cgst: t.cgst,
            sgst: t.sgst,
            igst: t.igst,
            total: t.value(),
        });
    }
    let s = &tax.shipping;
    let fee = s.taxable_value + s.tax();
    let shipping = Line {
        description: "Shipping and handling".into(),
        hsn: None,
        product_id: None,
        variant_id: None,
        sku: None,
        quantity: Some(1),
        unit_price: Some(fee),
        discount: Paise::ZERO,
        taxable_value: s.taxable_value,
        rate: s.rate,
        cgst: s.cgst,
        sgst: s.sgst,
        igst: s.igst,
        total: fee,
    };
    let totals = Totals::of(lines.iter().chain(std::iter::once(&shipping)));
    if totals.total != order.total {
        return Err(Error::Internal(anyhow::anyhow!(
            "order {}: its tax adds up to {}, not its total {}",
            order.id,
            totals.total,
            order.total
        )));
    }
    let address = &order.shipping.address;
    Ok(Invoice {
        number,
        date: india_date(at),
        issued_at: rfc3339(at),
        financial_year: financial_year(chrono_utc(at)),
        order: OrderRef {
            id: order.id.to_hex(),
            number: order.display_number(),
        },
        seller: seller_party(seller),
        buyer: Party {
            name: address.name.clone(),
            gstin: None,
            address: one_line(address),
            state: tax.place_of_supply.clone(),
            phone: Some(address.phone.clone()),
        },
        place_of_supply: tax.place_of_supply.clone(),
        inter_state: tax.inter_state,
        reverse_charge: REVERSE_CHARGE.into(),
        amount_in_words: amount_in_words(totals.total),
        lines,
        shipping,
        totals,
    })
}

/// Takes the next number of series `series` (`invoice`, `creditNote`) for `prefix` in the
/// financial year of `at`, inside the caller's transaction (see the module docs).
async fn next_number_in(
    db: &Db,
    session: &mut ClientSession,
    series: &str,
    prefix: &DocumentPrefix,
    at: DateTime,
) -> Result<String> {
    let fy = financial_year(chrono_utc(at));
    let key = format!("{series}/{}/{fy}", prefix.as_str());
    let bumped = db
        .docs(COUNTERS)
        .find_one_and_update(doc! { "_id": &key }, doc! { "$inc": { "seq": 1_i64 } })
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?;
    let Some(counter) = bumped else {
        // The first document of a year. Created outside the transaction, at 0, because
        // racing upserts inside transactions may fail on a duplicate key instead of
        // conflicting; then the whole transaction runs again and increments it like any other.
        match db
            .docs(COUNTERS)
            .insert_one(doc! { "_id": &key, "seq": 0_i64 })
            .await
        {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(e.into()),
        }
        return Err(platform::db::retry_transaction());
    };
    let seq = counter
        .get_i64("seq")
        .map_err(|e| Error::Internal(anyhow::anyhow!("counter {key}: {e}")))?;
    u32::try_from(seq)
        .ok()
        .and_then(|seq| document_number(prefix, &fy, seq))
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "series {key} is exhausted at {seq}: a new prefix is needed"
            ))
        })
}

/// The id of the order `filter` finds (`order::lifecycle::filter_for`, plus `userId` for a customer),
/// or `404 ORDER_NOT_FOUND`: another customer's order looks like none.
pub async fn order_id(db: &Db, filter: mongodb::bson::Document) -> Result<OrderId> {
    let found = db
        .docs(crate::order::model::ORDERS)
        .find_one(filter)
        .projection(doc! { "_id": 1 })
        .await?
        .ok_or_else(crate::order::model::order_not_found)?;
    found
        .get_object_id("_id")
        .map(OrderId)
        .map_err(|e| Error::Internal(anyhow::anyhow!("order without an id: {e}")))
}

/// The invoice of the order `filter` finds: `ORDER_NOT_FOUND`, then `INVOICE_NOT_FOUND`.
pub async fn for_order(db: &Db, filter: mongodb::bson::Document) -> Result<Invoice> {
    let id = order_id(db, filter).await?;
    find(db, id).await?.ok_or_else(invoice_not_found)
}

/// The invoice of order `order_id`, if it has one.
pub async fn find(db: &Db, order_id: OrderId) -> Result<Option<Invoice>> {
    Ok(db
        .collection::<StoredInvoice>(INVOICES)
        .find_one(doc! { "orderId": order_id })
        .await?
        .map(|s| s.invoice))
}

/// A summary of each credit note issued against order `order_id`, oldest first.
pub async fn credit_notes(db: &Db, order_id: OrderId) -> Result<Vec<CreditNote>> {
    let stored: Vec<StoredCreditNote> = db
        .collection::<StoredCreditNote>(CREDIT_NOTES)
        .find(doc! { "orderId": order_id })
        .sort(doc! { "at": 1, "_id": 1 })
        .await?
        .try_collect()
        .await?;
    Ok(stored.into_iter().map(|s| s.note).collect())
}

/// Credit note `number` of order `order_id`.
pub async fn find_credit_note(
    db: &Db,
    order_id: OrderId,
    number: &str,
) -> Result<Option<CreditNote>> {
    Ok(db
        .collection::<StoredCreditNote>(CREDIT_NOTES)
        .find_one(doc! { "orderId": order_id, "number": number })
        .await?
        .map(|s| s.note))
}

/// The credit note issued for refund `merchant_refund_id`, if any.
pub async fn credit_note_for_refund(
    db: &Db,
    merchant_refund_id: &str,
) -> Result<Option<CreditNote>> {
    Ok(db
        .collection::<StoredCreditNote>(CREDIT_NOTES)
        .find_one(doc! { "refundId": merchant_refund_id })
        .await?
        .map(|s| s.note))
}

/// What `order::transition` does on a move to `shipped`: issues the order's invoice in the same
/// transaction, and a credit note for each refund that completed before it. An order placed
/// before GST was modelled has no tax to draw one from and is shipped without.
pub async fn on_shipped_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    seller: &SellerConfig,
) -> Result<Option<Invoice>> {
    if order.tax.is_none() {
        tracing::warn!(order_id = %order.id.to_hex(), "shipped without a tax invoice: the order was placed before GST was modelled");
        return Ok(None);
    }
    let invoice = issue_in(db, session, order, seller).await?;
    // Money already given back before the goods left: the invoice is for the whole supply,
    // so each such refund gets its credit note now, as it would have had it come later.
    for refund in order
        .refunds
        .iter()
        .filter(|r| r.state == crate::order::model::refund::RefundState::Completed)
    {
        credit_note_in(db, session, order, refund).await?;
    }
    Ok(Some(invoice))
}

/// Issues `order`'s invoice inside the caller's transaction, or returns the one it already
/// has: an order is invoiced once.
pub async fn issue_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    seller: &SellerConfig,
) -> Result<Invoice> {
    let invoices = db.collection::<StoredInvoice>(INVOICES);
    if let Some(existing) = invoices
        .find_one(doc! { "orderId": order.id })
        .session(&mut *session)
        .await?
    {
        return Ok(existing.invoice);
    }
    let tax = order.tax.as_ref().ok_or_else(|| {
        Error::Internal(anyhow::anyhow!("order {} has no tax to invoice", order.id))
    })?;
    let at = now();
    // Drawn before the number is taken, so a bad order fails without touching the counter.
    let mut invoice = draw_invoice(order, tax, seller, String::new(), at)?;
    invoice.number = next_number_in(db, session, "invoice", &seller.invoice_prefix, at).await?;
    let stored = StoredInvoice {
        id: ObjectId::new(),
        order_id: order.id,
        user_id: order.user_id.clone(),
        at,
        credit_note_prefix: seller.credit_note_prefix.as_str().to_owned(),
        invoice,
    };
    invoices.insert_one(&stored).session(&mut *session).await?;
    tracing::info!(order_id = %order.id.to_hex(), number = %stored.invoice.number, "tax invoice issued");
    Ok(stored.invoice)
}

/// `round_half_up(value × part / whole)`, 0 when `whole` is 0.
fn share(value: Paise, part: Paise, whole: Paise) -> Paise {
    if whole.get() == 0 {
        return Paise::ZERO;
    }
    let (v, p, w) = (
        i128::from(value.get()),
        i128::from(part.get()),
        i128::from(whole.get()),
    );
    Paise(((2 * v * p + w) / (2 * w)) as i64)
}

/// A credit-note row worth `value` of invoice row `of`: its tax in the same proportion to its
/// value as on the invoice, split the way the invoice splits (CGST takes the odd paisa).
fn reversed(of: &Line, value: Paise, quantity: Option<i64>, inter_state: bool) -> Line {
    let tax = share(value, of.tax(), of.total);
    let (cgst, sgst, igst) = if inter_state {
        (Paise::ZERO, Paise::ZERO, tax)
    } else {
        let cgst = Paise((tax.get() + 1) / 2);
        (cgst, tax - cgst, Paise::ZERO)
    };
    let gross = match (quantity, of.unit_price) {
        (Some(q), Some(p)) => Paise(p.get() * q),
        _ => value,
    };
    Line {
        description: of.description.clone(),
        hsn: of.hsn.clone(),
        product_id: of.product_id.clone(),
        variant_id: of.variant_id.clone(),
        sku: of.sku.clone(),
        quantity,
        unit_price: quantity.and(of.unit_price),
        discount: gross - value,
        taxable_value: value - tax,
        rate: of.rate,
        cgst,
        sgst,
        igst,
        total: value,
    }
}

/// Largest-remainder split of `amount` over `weights` (all ≥ 0, summing to ≥ `amount`).
fn spread(amount: Paise, weights: &[Paise]) -> Vec<Paise> {
    let whole: i128 = weights.iter().map(|w| i128::from(w.get())).sum();
    if whole == 0 {
        return vec![Paise::ZERO; weights.len()];
    }
    let a = i128::from(amount.get());
    let mut shares: Vec<i128> = weights
        .iter()
        .map(|w| a * i128::from(w.get()) / whole)
        .collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(a * i128::from(weights[i].get()) % whole));
    let left = a - shares.iter().sum::<i128>();
    for &i in order.iter().take(left.max(0) as usize) {
        shares[i] += 1;
    }
    shares.into_iter().map(|s| Paise(s as i64)).collect()
}

/// The rows of the credit note for `refund` against `invoice`. A refund of lines credits
/// those units at what they cost after the discount (the refund's own rule); a refund of an
/// amount is spread over the invoice's rows in proportion to their value. Either way the
/// rows add up to exactly the money refunded. `credited` is the units of each product
/// already credited by earlier notes.
pub fn credit_lines(
    invoice: &Invoice,
    refund: &Refund,
    credited: &HashMap<String, i64>,
) -> Vec<Line> {
    let inter = invoice.inter_state;
    let mut rows: Vec<Line> = Vec::new();
    if let Some(lines) = refund.lines.as_ref().filter(|l| !l.is_empty()) {
        for rl in lines {
            let pid = rl.variant().to_hex();
            let Some(of) = invoice
                .lines
                .iter()
                .find(|l| l.variant_key() == Some(pid.as_str()))
            else {
                continue;
            };
            let n = i128::from(of.quantity.unwrap_or(1).max(1));
            let paid = i128::from(of.total.get());
            let already = i128::from(*credited.get(&pid).unwrap_or(&0));
            let worth = |k: i128| paid * k / n;
            let value = Paise((worth(already + i128::from(rl.quantity)) - worth(already)) as i64);
            rows.push(reversed(of, value, Some(rl.quantity), inter));
        }
        // Units refunded in another order than their refunds were decided may differ from
        // the refund's amount by a paisa: the note says what the customer got back.
        let sum = rows.iter().fold(Paise::ZERO, |s, r| s + r.total);
        if sum != refund.amount {
            if let Some(i) = (0..rows.len()).max_by_key(|&i| rows[i].total) {
                let of = invoice
                    .lines
                    .iter()
                    .find(|l| l.variant_key() == rows[i].variant_key())
                    .expect("the row came from this line");
                let value = rows[i].total + (refund.amount - sum);
                rows[i] = reversed(of, value, rows[i].quantity, inter);
            }
        }
        if !rows.is_empty() {
            return rows;
        }
    }
    let all: Vec<&Line> = invoice
        .lines
        .iter()
        .chain(std::iter::once(&invoice.shipping))
        .collect();
    let weights: Vec<Paise> = all.iter().map(|l| l.total).collect();
    for (of, value) in all.iter().zip(spread(refund.amount, &weights)) {
        if value != Paise::ZERO {
            rows.push(reversed(of, value, None, inter));
        }
    }
    rows
}

/// What `refunds::settle` does when a refund completes: if the order was invoiced, issues
/// the refund's credit note in the same transaction (once per refund). Extra charges are
/// not part of the invoiced supply and get none.
pub async fn credit_note_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    refund: &Refund,
) -> Result<Option<CreditNote>> {
    if !refund.counts_against_order() {
        return Ok(None);
    }
    let Some(invoice) = db
        .collection::<StoredInvoice>(INVOICES)
        .find_one(doc! { "orderId": order.id })
        .session(&mut *session)
        .await?
    else {
        return Ok(None);
    };
    let notes = db.collection::<StoredCreditNote>(CREDIT_NOTES);
    let earlier: Vec<StoredCreditNote> = notes
        .find(doc! { "orderId": order.id })
        .session(&mut *session)
        .await?
        .stream(&mut *session)
        .try_collect()
        .await?;
    if let Some(done) = earlier
        .iter()
        .find(|n| n.note.refund_id == refund.merchant_refund_id)
    {
        return Ok(Some(done.note.clone()));
    }
    let mut credited: HashMap<String, i64> = HashMap::new();
    for n in &earlier {
        for l in &n.note.lines {
            if let (Some(key), Some(q)) = (l.variant_key(), l.quantity) {
                *credited.entry(key.to_owned()).or_default() += q;
            }
        }
    }
    let prefix = DocumentPrefix::parse(&invoice.credit_note_prefix)
        .map_err(|e| Error::Internal(anyhow::anyhow!("invoice credit-note prefix: {e}")))?;
    let inv = &invoice.invoice;
    let lines = credit_lines(inv, refund, &credited);
    let totals = Totals::of(&lines);
    let at = now();
    let number = next_number_in(db, session, "creditNote", &prefix, at).await?;
    let stored = StoredCreditNote {
        id: ObjectId::new(),
        order_id: order.id,
        user_id: order.user_id.clone(),
        at,
        note: CreditNote {
            number,
            date: india_date(at),
            issued_at: rfc3339(at),
            financial_year: financial_year(chrono_utc(at)),
            invoice: InvoiceRef {
                number: inv.number.clone(),
                date: inv.date.clone(),
            },
            order: inv.order.clone(),
            refund_id: refund.merchant_refund_id.clone(),
            reason: refund.reason.clone(),
            seller: inv.seller.clone(),
            buyer: inv.buyer.clone(),
            place_of_supply: inv.place_of_supply.clone(),
            inter_state: inv.inter_state,
            reverse_charge: REVERSE_CHARGE.into(),
            amount_in_words: amount_in_words(totals.total),
            lines,
            totals,
        },
    };
    notes.insert_one(&stored).session(&mut *session).await?;
    tracing::info!(order_id = %order.id.to_hex(), number = %stored.note.number, invoice = %inv.number, "credit note issued");
    Ok(Some(stored.note))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::order::model::refund::{RefundKind, RefundLine, RefundState};
    use crate::order::model::{OrderItem, Payment, Shipping};
    use crate::order::status::OrderStatus;
    use crate::tax::seller::ShippingConfig;
    use crate::tax::{compute_tax, Gstin, TaxLineInput};
    use crate::vocabulary::ids::ProductId;

    pub(crate) fn seller() -> SellerConfig {
        SellerConfig {
            name: "Pitalya Handicrafts Private Limited".into(),
            gstin: Gstin::parse("33AABCP1234Q1ZE").unwrap(),
            address: "14 Car Street, Mylapore, Chennai, Tamil Nadu 600004".into(),
            invoice_prefix: DocumentPrefix::parse("PIT").unwrap(),
            credit_note_prefix: DocumentPrefix::parse("PCN").unwrap(),
            shipping: ShippingConfig {
                fee: Paise::ZERO,
                free_min: Paise::ZERO,
            },
        }
    }

    /// Two lines (2 × ₹1,299 at 12 %, 1 × ₹499 at 5 %), ₹100 off, ₹49 shipping, to `state`.
    pub(crate) fn order(state: &str) -> Order {
        use crate::vocabulary::ids::VariantId;
        let p1 = ProductId(ObjectId::parse_str("6745f0c2a1b2c3d4e5f60701").unwrap());
        let p2 = ProductId(ObjectId::parse_str("6745f0c2a1b2c3d4e5f60702").unwrap());
        let items = vec![
            OrderItem {
                product_id: p1,
                variant_id: VariantId::from(p1),
                sku: None,
                variant_title: crate::catalog::DEFAULT_VARIANT_TITLE.into(),
                name: "Brass Urli".into(),
                price: Paise(129_900),
                image: None,
                quantity: 2,
                line_total: Paise(259_800),
            },
            OrderItem {
                product_id: p2,
                variant_id: VariantId::from(p2),
                sku: None,
                variant_title: crate::catalog::DEFAULT_VARIANT_TITLE.into(),
                name: "Diya ₹ set".into(),
                price: Paise(49_900),
                image: None,
                quantity: 1,
                line_total: Paise(49_900),
            },
        ];
        let inputs = vec![
            TaxLineInput {
                product_id: p1,
                hsn: Hsn::new("74181022").unwrap(),
                rate: GstRate::from_basis_points(1200).unwrap(),
                line_total: Paise(259_800),
            },
            TaxLineInput {
                product_id: p2,
                hsn: Hsn::new("9405").unwrap(),
                rate: GstRate::from_basis_points(500).unwrap(),
                line_total: Paise(49_900),
            },
        ];
        let tax =
            compute_tax(&seller().gstin, state, &inputs, Paise(10_000), Paise(4_900)).unwrap();
        let mut o = crate::order::model::sample_order();
        o.id = OrderId(ObjectId::parse_str("6745f0c2a1b2c3d4e5f607aa").unwrap());
        o.number = Some("PIT-1001".into());
        o.items = items;
        o.subtotal = Paise(309_700);
        o.discount = Paise(10_000);
        o.shipping_fee = Paise(4_900);
        o.total = Paise(309_700 - 10_000 + 4_900);
        o.tax = Some(tax);
        o.status = OrderStatus::Paid;
        o.payment = Payment::pending();
        o.shipping = Shipping {
            address: Address {
                state: state.into(),
                ..o.shipping.address.clone()
            },
            ..o.shipping.clone()
        };
        o
    }

    pub(crate) fn refund(amount: i64, lines: Option<Vec<(ProductId, i64)>>) -> Refund {
        Refund {
            id: ObjectId::new(),
            merchant_refund_id: "PITR-x-1".into(),
            original_merchant_order_id: "m".into(),
            amount: Paise(amount),
            lines: lines.map(|ls| {
                ls.into_iter()
                    .map(|(product_id, quantity)| RefundLine {
                        product_id,
                        variant_id: None,
                        quantity,
                    })
                    .collect()
            }),
            restock: false,
            reason: "damaged in transit".into(),
            kind: RefundKind::Owner,
            state: RefundState::Pending,
            by: "admin".into(),
            at: now(),
            requested_at: None,
            next_check_at: now(),
            checks: 0,
            last_error: None,
            settled_at: None,
            replaces: None,
            idempotency_key: None,
            request_hash: None,
        }
    }

    #[test]
    fn an_invoice_adds_up_to_the_order_and_keeps_every_field() {
        let o = order("Tamil Nadu");
        let inv = draw_invoice(
            &o,
            o.tax.as_ref().unwrap(),
            &seller(),
            "PIT/2627/000001".into(),
            now(),
        )
        .unwrap();
        assert_eq!(inv.totals.total, o.total);
        assert_eq!(inv.totals.total_tax, o.tax.as_ref().unwrap().total_tax);
        for l in inv.lines.iter().chain([&inv.shipping]) {
            assert_eq!(l.taxable_value + l.tax(), l.total);
            assert_eq!(
                Paise(l.unit_price.unwrap().get() * l.quantity.unwrap()) - l.discount,
                l.total
            );
            assert_eq!(l.igst, Paise::ZERO);
        }
        assert_eq!(inv.seller.state.code, "33");
        assert_eq!(inv.place_of_supply.name, "Tamil Nadu");
        assert_eq!(inv.reverse_charge, "No");
        assert_eq!(inv.amount_in_words, amount_in_words(o.total));
        assert_eq!(inv.lines[0].hsn.as_ref().unwrap().as_str(), "74181022");

        // The stored form (flattened under its keys) round-trips through BSON.
        let stored = StoredInvoice {
            id: ObjectId::new(),
            order_id: o.id,
            user_id: o.user_id.clone(),
            at: now(),
            credit_note_prefix: "PCN".into(),
            invoice: inv.clone(),
        };
        let bson = mongodb::bson::to_document(&stored).unwrap();
        assert_eq!(bson.get_str("number").unwrap(), "PIT/2627/000001");
        let back: StoredInvoice = mongodb::bson::from_document(bson).unwrap();
        assert_eq!(back.invoice, inv);
    }

    #[test]
    fn credit_notes_reverse_tax_in_the_invoices_proportions_and_add_up_to_the_refund() {
        let o = order("Karnataka");
        let inv = draw_invoice(
            &o,
            o.tax.as_ref().unwrap(),
            &seller(),
            "PIT/2627/000001".into(),
            now(),
        )
        .unwrap();
        assert!(inv.inter_state);
        let p1 = o.items[0].product_id;

        // One of the two urlis: half the line, to the paisa.
        let one = inv.lines[0].total.get() / 2;
        let rows = credit_lines(&inv, &refund(one, Some(vec![(p1, 1)])), &HashMap::new());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].total, Paise(one));
        assert_eq!(rows[0].quantity, Some(1));
        assert_eq!(rows[0].igst + rows[0].taxable_value, Paise(one));
        let half_tax = inv.lines[0].tax().get() as f64 / 2.0;
        assert!((rows[0].igst.get() as f64 - half_tax).abs() <= 0.5);

        // The second one, after the first was credited: the two notes give back the line.
        let credited = HashMap::from([(p1.to_hex(), 1)]);
        let rest = inv.lines[0].total.get() - one;
        let rows2 = credit_lines(&inv, &refund(rest, Some(vec![(p1, 1)])), &credited);
        assert_eq!(rows[0].total + rows2[0].total, inv.lines[0].total);

        // An amount: spread over every row, shipping included, adding up exactly.
        let rows = credit_lines(&inv, &refund(50_001, None), &HashMap::new());
        assert_eq!(rows.len(), 3);
        assert_eq!(Totals::of(&rows).total, Paise(50_001));
        for r in &rows {
            assert_eq!(r.taxable_value + r.tax(), r.total);
        }

        // Everything: exactly the invoice's tax comes back.
        let rows = credit_lines(&inv, &refund(o.total.get(), None), &HashMap::new());
        let t = Totals::of(&rows);
        assert_eq!((t.total, t.igst), (inv.totals.total, inv.totals.igst));
    }

    proptest::proptest! {
        #[test]
        fn a_credit_note_adds_up_to_the_refund_and_a_full_one_reverses_all_the_tax(
            cut in 0.0f64..=1.0,
            inter in proptest::bool::ANY,
        ) {
            let o = order(if inter { "Karnataka" } else { "Tamil Nadu" });
            let inv = draw_invoice(&o, o.tax.as_ref().unwrap(), &seller(), "N".into(), now())
                .unwrap();
            let amount = (o.total.get() as f64 * cut) as i64;
            let rows = credit_lines(&inv, &refund(amount, None), &HashMap::new());
            let t = Totals::of(&rows);
            proptest::prop_assert_eq!(t.total, Paise(amount));
            proptest::prop_assert!(t.total_tax <= inv.totals.total_tax);
            for r in &rows {
                proptest::prop_assert_eq!(r.taxable_value + r.tax(), r.total);
                proptest::prop_assert!(r.taxable_value >= Paise::ZERO && r.tax() >= Paise::ZERO);
                if inter {
                    proptest::prop_assert_eq!(r.cgst + r.sgst, Paise::ZERO);
                } else {
                    proptest::prop_assert_eq!(r.igst, Paise::ZERO);
                }
            }
            let all = Totals::of(&credit_lines(&inv, &refund(o.total.get(), None), &HashMap::new()));
            proptest::prop_assert_eq!(all, inv.totals.clone());
        }
    }

    #[test]
    fn file_names_have_no_slashes() {
        assert_eq!(file_name("PIT/2627/000001"), "PIT-2627-000001.pdf");
    }
}
