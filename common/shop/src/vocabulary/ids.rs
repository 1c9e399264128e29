//! Typed identifiers, so an order id can never be passed where a product id is expected.

use mongodb::bson::oid::ObjectId;
use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! object_id {
    ($name:ident, $not_found:ident, $what:literal) => {
        /// Stored as the ObjectId it is; in JSON (any human-readable format) written as its
        /// 24-hex string, which is also read back, as is an ObjectId.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ObjectId);

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(&self.0.to_hex())
                } else {
                    self.0.serialize(s)
                }
            }
        }

        impl $name {
            pub fn new() -> Self {
                Self(ObjectId::new())
            }

            /// For ids in a URL path: a malformed id names nothing, so it is a 404.
            pub fn from_path(s: &str) -> Result<Self> {
                ObjectId::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::new(ProblemCode::$not_found, concat!("No such ", $what)))
            }

            /// For ids in a request body: a malformed id is a validation failure of that field.
            pub fn from_field(field: &str, s: &str) -> Result<Self> {
                ObjectId::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::field(field, "must be a 24-character hex id"))
            }

            pub fn oid(self) -> ObjectId {
                self.0
            }

            pub fn to_hex(self) -> String {
                self.0.to_hex()
            }
        }

        /// So a typed id stands in a `doc!` filter or update as the ObjectId it is stored as.
        impl From<$name> for ::mongodb::bson::Bson {
            fn from(id: $name) -> Self {
                ::mongodb::bson::Bson::ObjectId(id.0)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0.to_hex())
            }
        }
    };
}

object_id!(ProductId, ProductNotFound, "product");
object_id!(OrderId, OrderNotFound, "order");
// A variant that names nothing is answered like an unknown product: the shopper asked for
// something the shop does not sell. A product stored before variants has one variant whose
// id is the product's own, so carts, orders and ledger entries written before still name it.
object_id!(VariantId, ProductNotFound, "product variant");

impl From<ProductId> for VariantId {
    /// The id of the single variant of a product stored before variants.
    fn from(p: ProductId) -> Self {
        VariantId(p.0)
    }
}

/// Who signed in is the platform's (`auth`); the shop names users by the same type.
pub use platform::auth::UserId;

/// Serialises an ObjectId as its 24-hex string in API responses.
pub fn hex<S: serde::Serializer>(id: &ObjectId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_hex())
}
