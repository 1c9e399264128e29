//! GST for a seller of tax-inclusive goods: who may be charged what, computed in integer
//! paise as pure functions so checkout, invoices and credit notes agree to the paisa and
//! the rules can be tested without a database.

mod compute;
mod gstin;
mod numbering;
mod rate;
pub mod seller;
mod state;
mod words;

pub use compute::{
    compute_tax, shipping_fee, split_discount, split_discount_by_totals, LineTax, OrderTax,
    ShippingTax, TaxError, TaxLineInput,
};
pub use gstin::{gstin_check_char, Gstin, GstinError};
pub use numbering::{document_number, financial_year, DocumentPrefix};
pub use rate::{GstRate, Hsn};
pub use state::{gst_state_code, GstState, GstStateCode};
pub use words::amount_in_words;
