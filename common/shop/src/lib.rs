//! The shop: the business, one module per aggregate, on top of the platform and the
//! integrations (ARCHITECTURE.md draws the order the modules may use each other in).

pub mod address;
pub mod cart;
pub mod catalog;
pub mod coupons;
pub mod ids;
pub mod invoices;
pub mod mail;
pub mod models;
pub mod money;
pub mod order_settings;
pub mod order_state;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod refunds;
pub mod seller;
pub mod tax;

pub use money::Paise;

/// Every index of every collection the shop owns, each declared by its owner, for
/// `Services::init` to build on a database older than the code.
pub fn indexes() -> Vec<platform::db::IndexSpec> {
    [
        catalog::indexes(),
        coupons::indexes(),
        cart::indexes(),
        orders::indexes(),
        payments::indexes(),
        refunds::indexes(),
        invoices::indexes(),
        outbox::indexes(),
    ]
    .concat()
}
