//! `POST /admin/imports/shopify-products`: a shop moving off Shopify sends its product CSV
//! export as it is (`text/csv`, up to 5 MB) and gets back what was (or, in a dry run, the
//! default, would be) created, updated or left alone, with every row's problems. Reading the
//! file and planning are `common::shop::shopify`'s; the writes the catalog's.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::error::FieldError;
use common::platform::http::query_pairs;
use common::platform::problem_codes::ProblemCode;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::shopify::{self, FileProblem, ImportDefaults, Report, MAX_FILE_BYTES};
use common::shop::tax::{GstRate, Hsn};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/admin/imports/shopify-products", post(import_products))
}

/// `dryRun` (default true: looking is the safe thing to do by accident), `defaultHsn` and
/// `defaultGstRate` for the products the import creates.
fn import_query(query: Option<&str>) -> Result<(bool, ImportDefaults)> {
    let mut errors = Vec::new();
    let mut dry_run = true;
    let mut defaults = ImportDefaults::default();
    for (k, v) in query_pairs(query)? {
        match k.as_str() {
            "dryRun" => match v.as_str() {
                "true" => dry_run = true,
                "false" => dry_run = false,
                _ => errors.push(FieldError::new("dryRun", "must be true or false")),
            },
            // The rules of a product's `hsn` and `gstRate`, under the names the owner typed.
            "defaultHsn" => match Hsn::parse("defaultHsn", &v) {
                Ok(hsn) => defaults.hsn = Some(hsn),
                Err(e) => errors.push(e),
            },
            "defaultGstRate" => match v
                .parse::<i64>()
                .map_err(|_| FieldError::new("defaultGstRate", "must be whole basis points"))
                .and_then(|bps| GstRate::parse("defaultGstRate", bps))
            {
                Ok(rate) => defaults.gst_rate = Some(rate),
                Err(e) => errors.push(e),
            },
            other => errors.push(FieldError::new(other, "is not a known query parameter")),
        }
    }
    if errors.is_empty() {
        Ok((dry_run, defaults))
    } else {
        Err(Error::validation(errors))
    }
}

/// `text/csv`, with parameters (`; charset=utf-8`) allowed; a missing type is let through,
/// as API Gateway may drop it.
fn is_csv(req: &Request) -> bool {
    req.headers().get(CONTENT_TYPE).is_none_or(|ct| {
        ct.to_str().is_ok_and(|s| {
            s.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        })
    })
}

fn file_problem(problem: FileProblem) -> Error {
    match problem {
        FileProblem::TooLarge { .. } => too_large(),
        other => Error::validation(other.field_errors()),
    }
}

fn too_large() -> Error {
    Error::new(
        ProblemCode::PayloadTooLarge,
        format!("An import takes a file of at most 5 MB ({MAX_FILE_BYTES} bytes)"),
    )
}

async fn import_products(
    State(services): State<Services>,
    Admin(user): Admin,
    req: Request,
) -> Result<Json<Report>> {
    let (dry_run, defaults) = import_query(req.uri().query())?;
    if !is_csv(&req) {
        return Err(Error::new(
            ProblemCode::UnsupportedMediaType,
            "Send the Shopify export as text/csv",
        ));
    }
    // Not the JSON routes' 64 KiB: a catalog's export is megabytes.
    let bytes = axum::body::to_bytes(req.into_body(), MAX_FILE_BYTES)
        .await
        .map_err(|_| too_large())?;
    let parsed = shopify::parse(&bytes, defaults).map_err(file_problem)?;
    let report = shopify::import(&services.db, &parsed, dry_run, user.id.as_str()).await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_is_a_dry_run_unless_asked_otherwise() {
        assert!(import_query(None).unwrap().0);
        assert!(!import_query(Some("dryRun=false")).unwrap().0);
        let (_, defaults) = import_query(Some("defaultHsn=7418&defaultGstRate=1200")).unwrap();
        assert_eq!(defaults.hsn.unwrap().as_str(), "7418");
        for bad in [
            "dryRun=yes",
            "defaultHsn=74",
            "defaultGstRate=1300",
            "defaultGstRate=12%",
            "colour=gold",
        ] {
            assert!(import_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
