//! The one table of problem `code`s the API sends, each with the HTTP status it is always sent
//! with: an error names its code and the status follows (`Error::new(code, detail)`), so no
//! caller chooses one. `openapi.yaml`'s `ProblemCode` enum is checked against the table, and
//! so is every status the spec's prose pairs with a code (`403 FORBIDDEN`) and every code the
//! sources pass to an error constructor (`common/tests/architecture.rs`), so a new code cannot
//! ship undocumented or with a second status.

use axum::http::StatusCode;

/// Generates the enum, its wire names, its statuses and `ALL` from one list of rows.
macro_rules! problem_codes {
    ($($code:ident = $name:literal => $status:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($code,)*
        }

        impl ProblemCode {
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$code,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$code => $name,)*
                }
            }

            /// The status every response with this code has.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ProblemCode::$code => StatusCode::$status,)*
                }
            }
        }
    };
}

problem_codes! {
    BadRequest = "BAD_REQUEST" => BAD_REQUEST,
    CartEmpty = "CART_EMPTY" => UNPROCESSABLE_ENTITY,
    CartLimit = "CART_LIMIT" => UNPROCESSABLE_ENTITY,
    ConsoleMisconfigured = "CONSOLE_MISCONFIGURED" => INTERNAL_SERVER_ERROR,
    CouponAlreadyUsed = "COUPON_ALREADY_USED" => CONFLICT,
    CouponCodeTaken = "COUPON_CODE_TAKEN" => CONFLICT,
    CreditNoteNotFound = "CREDIT_NOTE_NOT_FOUND" => NOT_FOUND,
    CouponExhausted = "COUPON_EXHAUSTED" => CONFLICT,
    CouponExpired = "COUPON_EXPIRED" => UNPROCESSABLE_ENTITY,
    CouponNotFound = "COUPON_NOT_FOUND" => NOT_FOUND,
    ExportTooLarge = "EXPORT_TOO_LARGE" => UNPROCESSABLE_ENTITY,
    Forbidden = "FORBIDDEN" => FORBIDDEN,
    IdempotencyKeyInUse = "IDEMPOTENCY_KEY_IN_USE" => CONFLICT,
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED" => UNPROCESSABLE_ENTITY,
    InsufficientStock = "INSUFFICIENT_STOCK" => CONFLICT,
    Internal = "INTERNAL" => INTERNAL_SERVER_ERROR,
    InvalidJson = "INVALID_JSON" => BAD_REQUEST,
    InvalidTransition = "INVALID_TRANSITION" => CONFLICT,
    InvoiceNotFound = "INVOICE_NOT_FOUND" => NOT_FOUND,
    MethodNotAllowed = "METHOD_NOT_ALLOWED" => METHOD_NOT_ALLOWED,
    MinOrderNotMet = "MIN_ORDER_NOT_MET" => UNPROCESSABLE_ENTITY,
    NothingToRefund = "NOTHING_TO_REFUND" => CONFLICT,
    NotInCart = "NOT_IN_CART" => NOT_FOUND,
    OrderNotFound = "ORDER_NOT_FOUND" => NOT_FOUND,
    OrderNotPayable = "ORDER_NOT_PAYABLE" => CONFLICT,
    PayloadTooLarge = "PAYLOAD_TOO_LARGE" => PAYLOAD_TOO_LARGE,
    PaymentAttemptFailed = "PAYMENT_ATTEMPT_FAILED" => CONFLICT,
    PaymentProviderError = "PAYMENT_PROVIDER_ERROR" => BAD_GATEWAY,
    PriceChanged = "PRICE_CHANGED" => CONFLICT,
    ProductNotFound = "PRODUCT_NOT_FOUND" => NOT_FOUND,
    ProductNotTaxable = "PRODUCT_NOT_TAXABLE" => CONFLICT,
    ProductUnavailable = "PRODUCT_UNAVAILABLE" => CONFLICT,
    RateLimited = "RATE_LIMITED" => TOO_MANY_REQUESTS,
    RefundBelowMinimum = "REFUND_BELOW_MINIMUM" => UNPROCESSABLE_ENTITY,
    RefundExceedsPaid = "REFUND_EXCEEDS_PAID" => UNPROCESSABLE_ENTITY,
    RouteNotFound = "ROUTE_NOT_FOUND" => NOT_FOUND,
    SkuTaken = "SKU_TAKEN" => CONFLICT,
    SlugTaken = "SLUG_TAKEN" => CONFLICT,
    StockWouldGoNegative = "STOCK_WOULD_GO_NEGATIVE" => CONFLICT,
    TryAgain = "TRY_AGAIN" => SERVICE_UNAVAILABLE,
    Unauthenticated = "UNAUTHENTICATED" => UNAUTHORIZED,
    Unavailable = "UNAVAILABLE" => SERVICE_UNAVAILABLE,
    UnitsAlreadyRefunded = "UNITS_ALREADY_REFUNDED" => UNPROCESSABLE_ENTITY,
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE" => UNSUPPORTED_MEDIA_TYPE,
    UsageLimitBelowUsed = "USAGE_LIMIT_BELOW_USED" => UNPROCESSABLE_ENTITY,
    ValidationFailed = "VALIDATION_FAILED" => BAD_REQUEST,
    VariantRequired = "VARIANT_REQUIRED" => UNPROCESSABLE_ENTITY,
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
