//! The shop: the business, on top of the platform and the integrations. Its modules form a
//! declared order, lowest first — vocabulary, tax, catalog, shopify, coupons, cart,
//! messages::outbox, order::status, order::model, invoices, order, payments, refunds,
//! messages, migrations — and a module uses only those before it. `SHOP_ORDER` in
//! `common/tests/architecture.rs` is that list, and the test that holds the code to it.

pub mod cart;
pub mod catalog;
pub mod coupons;
pub mod invoices;
pub mod messages;
pub mod migrations;
pub mod order;
pub mod payments;
pub mod refunds;
pub mod shopify;
pub mod tax;
pub mod vocabulary;

pub use vocabulary::money::Paise;

/// Every index of every collection the shop owns, each declared by its owner, for
/// `Services::init` to build on a database older than the code.
pub fn indexes() -> Vec<platform::db::IndexSpec> {
    [
        catalog::indexes(),
        coupons::indexes(),
        cart::indexes(),
        order::model::indexes(),
        payments::indexes(),
        refunds::indexes(),
        invoices::indexes(),
        messages::outbox::indexes(),
    ]
    .concat()
}
