//! Clients of other services, one module per provider, behind narrow types: they take and
//! return plain values and know no order. They may use the platform (errors, config), never
//! the shop; Cargo enforces it.

pub mod phonepe;
pub mod ses;
