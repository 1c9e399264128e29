//! The owner's copies of GST documents: any order's invoice (with the credit notes issued
//! against it, `GET /admin/orders/{id}/invoice`) and each document as the PDF the customer
//! was mailed (`/invoice.pdf`, `/credit-notes/{number}`).

use crate::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::services::Services;
use common::platform::Result;
use common::shop::invoices::{self, CreditNote, Invoice};
use common::shop::order::lifecycle::filter_for;
use common::shop::Paise;
use serde::Serialize;
use serde_json::Value;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders/{id}/invoice", get(invoice_json))
        .route("/admin/orders/{id}/invoice.pdf", get(invoice_pdf))
        // One whole segment (`PCN-2627-000001.pdf`): API Gateway's path variables cannot
        // carry a suffix, and a number's slashes cannot stand in a path segment.
        .route(
            "/admin/orders/{id}/credit-notes/{number}",
            get(credit_note_pdf),
        )
}

/// What the owner sees of a credit note beside the invoice: enough to fetch its PDF.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreditNoteSummary {
    number: String,
    date: String,
    refund_id: String,
    total: Paise,
    pdf: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminInvoice {
    #[serde(flatten)]
    invoice: Invoice,
    credit_notes: Vec<Value>,
}

pub(crate) fn pdf(number: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", invoices::file_name(number)),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

async fn invoice_json(
    State(services): State<Services>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AdminInvoice>> {
    let db = &services.db;
    let order = invoices::order_id(db, filter_for(&id)?).await?;
    let invoice = invoices::find(db, order)
        .await?
        .ok_or_else(invoices::invoice_not_found)?;
    let credit_notes = summaries(invoices::credit_notes(db, order).await?);
    Ok(Json(AdminInvoice {
        invoice,
        credit_notes,
    }))
}

/// The owner's list of an order's credit notes, each with the path of its PDF.
pub(crate) fn summaries(notes: Vec<CreditNote>) -> Vec<Value> {
    notes
        .into_iter()
        .map(|n| CreditNoteSummary {
            pdf: format!(
                "/admin/orders/{}/credit-notes/{}",
                n.order.id,
                invoices::file_name(&n.number)
            ),
            number: n.number,
            date: n.date,
            refund_id: n.refund_id,
            total: n.totals.total,
        })
        .map(|s| serde_json::to_value(s).unwrap_or_default())
        .collect()
}

async fn invoice_pdf(
    State(services): State<Services>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response> {
    let invoice = invoices::for_order(&services.db, filter_for(&id)?).await?;
    Ok(pdf(&invoice.number, invoices::pdf::invoice(&invoice)?))
}

/// `PCN-2627-000001.pdf` (or the number percent-encoded, slashes and all) → `PCN/2627/000001`.
fn credit_note_number(raw: &str) -> Option<String> {
    let stem = raw.strip_suffix(".pdf")?;
    let number = stem.replace('-', "/").to_ascii_uppercase();
    let ok = number.len() <= 16
        && number
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'/');
    ok.then_some(number)
}

async fn credit_note_pdf(
    State(services): State<Services>,
    _admin: Admin,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response> {
    let db = &services.db;
    let order = invoices::order_id(db, filter_for(&id)?).await?;
    let number = credit_note_number(&number).ok_or_else(invoices::credit_note_not_found)?;
    let note = invoices::find_credit_note(db, order, &number)
        .await?
        .ok_or_else(invoices::credit_note_not_found)?;
    Ok(pdf(&note.number, invoices::pdf::credit_note(&note)?))
}

#[cfg(test)]
mod tests {
    use super::credit_note_number;

    #[test]
    fn credit_note_file_names_map_to_numbers() {
        assert_eq!(
            credit_note_number("PCN-2627-000001.pdf").as_deref(),
            Some("PCN/2627/000001")
        );
        assert_eq!(
            credit_note_number("PCN/2627/000001.pdf").as_deref(),
            Some("PCN/2627/000001")
        );
        for bad in [
            "PCN-2627-000001",
            "{number}",
            "x.pdf$",
            "PCN-2627-0000001111.pdf",
        ] {
            assert_eq!(credit_note_number(bad), None, "{bad}");
        }
    }
}
