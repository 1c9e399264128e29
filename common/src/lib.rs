//! Shared code for every Pitalya Lambda function: the one crate each function depends on.
//! It hands on the three layers, each a crate of its own so that Cargo keeps their direction
//! (ARCHITECTURE.md draws them):
//!
//! - [`platform`]: configuration, MongoDB, errors as problem documents, HTTP plumbing, Clerk
//!   auth, telemetry and Lambda adapters. It knows nothing about a shop.
//! - [`integrations`]: clients of other services behind narrow types (PhonePe, SES). They use
//!   the platform, never the shop.
//! - [`shop`]: the business, one module per aggregate, on top of both.

pub use integrations;
pub use platform;
pub use shop;
