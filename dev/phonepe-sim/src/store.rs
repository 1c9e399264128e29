//! In-memory model of orders, payment attempts and refunds, and their PhonePe JSON renderings.

use std::collections::HashMap;

use chrono::{TimeDelta, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Completed,
    Failed,
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Pending => "PENDING",
            State::Completed => "COMPLETED",
            State::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ErrorCodes {
    pub code: String,
    pub detailed: String,
}

impl ErrorCodes {
    pub(crate) fn new(code: &str, detailed: &str) -> Self {
        Self {
            code: code.to_owned(),
            detailed: detailed.to_owned(),
        }
    }

    /// Stage/source/description follow PhonePe's error-code table so `errorContext` looks plausible.
    fn context(&self) -> Value {
        let (stage, source, description) = match self.detailed.as_str() {
            "TXN_AUTO_FAILED" => (
                "PRE_AUTHENTICATION",
                "CUSTOMER",
                "Payment was not completed before the order expired",
            ),
            "Z9" => ("AUTHORIZATION", "CUSTOMER", "Insufficient balance"),
            "ZM" => ("AUTHENTICATION", "CUSTOMER", "Invalid MPIN"),
            _ => ("AUTHORIZATION", "ISSUING_BANK", "Payment failed"),
        };
        json!({
            "errorCode": self.code,
            "detailedErrorCode": self.detailed,
            "source": source,
            "stage": stage,
            "description": description,
        })
    }
}

/// One payment attempt (a PhonePe "transaction") on an order.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub transaction_id: String,
    pub timestamp: i64,
    pub amount: i64,
    pub state: State,
    pub error: Option<ErrorCodes>,
    pub utr: String,
    pub upi_transaction_id: String,
    pub masked_account: String,
}

impl Attempt {
    pub(crate) fn new(amount: i64, state: State, error: Option<ErrorCodes>) -> Self {
        Self {
            transaction_id: phonepe_id("OM"),
            timestamp: now_ms(),
            amount,
            state,
            error,
            utr: random_digits(12),
            upi_transaction_id: format!("YBL{}", random_hex(16)),
            masked_account: format!("XXXXXXXX{}", random_digits(4)),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("transactionId".into(), json!(self.transaction_id));
        m.insert("paymentMode".into(), json!("UPI_QR"));
        m.insert("timestamp".into(), json!(self.timestamp));
        m.insert("amount".into(), json!(self.amount));
        m.insert("payableAmount".into(), json!(self.amount));
        m.insert("feeAmount".into(), json!(0));
        m.insert("state".into(), json!(self.state.as_str()));
        insert_error(&mut m, self.error.as_ref());
        m.insert(
            "rail".into(),
            json!({
                "type": "UPI",
                "utr": self.utr,
                "upiTransactionId": self.upi_transaction_id,
                "vpa": "customer@ybl",
            }),
        );
        m.insert(
            "instrument".into(),
            json!({
                "type": "ACCOUNT",
                "maskedAccountNumber": self.masked_account,
                "ifsc": "HDFC0000001",
                "accountHolderName": "Test Customer",
                "accountType": "SAVINGS",
            }),
        );
        Value::Object(m)
    }
}

/// Which attempts an order rendering includes (`details=true`, `details=false`, transaction status).
pub(crate) enum Attempts<'a> {
    All,
    Latest,
    Only(&'a str),
}

#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub order_id: String,
    pub merchant_order_id: String,
    pub amount: i64,
    pub expire_at: i64,
    pub meta_info: Option<Value>,
    pub redirect_url: Option<String>,
    pub page_token: String,
    pub state: State,
    pub error: Option<ErrorCodes>,
    pub attempts: Vec<Attempt>,
}

impl Order {
    /// Order status / transaction status body.
    pub(crate) fn to_json(&self, merchant_id: &str, which: Attempts, error_context: bool) -> Value {
        let mut m = self.common_json(merchant_id);
        m.insert("payableAmount".into(), json!(self.amount));
        m.insert("feeAmount".into(), json!(0));
        if error_context && self.state == State::Failed {
            if let Some(e) = &self.error {
                m.insert("errorContext".into(), e.context());
            }
        }
        let details: Vec<Value> = match which {
            Attempts::All => self.attempts.iter().map(Attempt::to_json).collect(),
            Attempts::Latest => self
                .attempts
                .last()
                .map(Attempt::to_json)
                .into_iter()
                .collect(),
            Attempts::Only(id) => self
                .attempts
                .iter()
                .filter(|a| a.transaction_id == id)
                .map(Attempt::to_json)
                .collect(),
        };
        m.insert("paymentDetails".into(), Value::Array(details));
        Value::Object(m)
    }

    /// `checkout.order.*` webhook payload; `amount` lets tests forge a mismatching amount.
    pub(crate) fn webhook_payload(&self, merchant_id: &str, amount: Option<i64>) -> Value {
        let mut m = self.common_json(merchant_id);
        let mut details: Vec<Value> = self.attempts.iter().map(Attempt::to_json).collect();
        if let Some(amount) = amount {
            m.insert("amount".into(), json!(amount));
            for d in &mut details {
                d["amount"] = json!(amount);
                d["payableAmount"] = json!(amount);
            }
        }
        m.insert("paymentDetails".into(), Value::Array(details));
        Value::Object(m)
    }

    fn common_json(&self, merchant_id: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("orderId".into(), json!(self.order_id));
        m.insert("merchantId".into(), json!(merchant_id));
        m.insert("merchantOrderId".into(), json!(self.merchant_order_id));
        m.insert("state".into(), json!(self.state.as_str()));
        m.insert("amount".into(), json!(self.amount));
        m.insert("expireAt".into(), json!(self.expire_at));
        if let Some(meta) = &self.meta_info {
            m.insert("metaInfo".into(), meta.clone());
        }
        insert_error(&mut m, self.error.as_ref());
        m
    }

    /// Marks a pending order past its expiry as failed; true when it changed.
    pub(crate) fn expire_if_due(&mut self, now: i64) -> bool {
        if self.state != State::Pending || now < self.expire_at {
            return false;
        }
        self.state = State::Failed;
        self.error = Some(ErrorCodes::new("TXN_NOT_COMPLETED", "TXN_AUTO_FAILED"));
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefundState {
    Pending,
    Confirmed,
    Completed,
    Failed,
}

impl RefundState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "PENDING",
            RefundState::Confirmed => "CONFIRMED",
            RefundState::Completed => "COMPLETED",
            RefundState::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Refund {
    pub merchant_refund_id: String,
    pub refund_id: String,
    pub original_merchant_order_id: String,
    pub amount: i64,
    pub state: RefundState,
    pub timestamp: i64,
    pub error: Option<ErrorCodes>,
    pub attempt: Attempt,
}

impl Refund {
    /// Union of the SDK's RefundStatusResponse and the docs' refund-status sample.
    pub(crate) fn to_json(&self, merchant_id: &str) -> Value {
        let mut m = Map::new();
        m.insert("merchantId".into(), json!(merchant_id));
        m.insert("merchantRefundId".into(), json!(self.merchant_refund_id));
        m.insert(
            "originalMerchantOrderId".into(),
            json!(self.original_merchant_order_id),
        );
        m.insert("refundId".into(), json!(self.refund_id));
        m.insert("amount".into(), json!(self.amount));
        m.insert("state".into(), json!(self.state.as_str()));
        m.insert("timestamp".into(), json!(self.timestamp));
        insert_error(&mut m, self.error.as_ref());
        let mut attempt = self.attempt.to_json();
        attempt["state"] = json!(self.state.as_str());
        m.insert("paymentDetails".into(), json!([attempt]));
        Value::Object(m)
    }

    /// `pg.refund.*` payload: the refund fields plus the order fields CallbackData expects.
    pub(crate) fn webhook_payload(&self, merchant_id: &str, order: &Order, state: &str) -> Value {
        let mut v = self.to_json(merchant_id);
        v["state"] = json!(state);
        v["paymentDetails"][0]["state"] = json!(state);
        v["orderId"] = json!(order.order_id);
        v["merchantOrderId"] = json!(order.merchant_order_id);
        v["expireAt"] = json!(order.expire_at);
        v
    }
}

#[derive(Default)]
pub(crate) struct Store {
    /// Keyed by merchantOrderId (unique per merchant, and the simulator has one merchant).
    pub orders: HashMap<String, Order>,
    pub by_page_token: HashMap<String, String>,
    pub by_transaction: HashMap<String, String>,
    /// Keyed by merchantRefundId.
    pub refunds: HashMap<String, Refund>,
    /// Access token → expiry (epoch s). Survives `reset` so clients' cached tokens stay valid.
    pub tokens: HashMap<String, i64>,
}

impl Store {
    /// Order amount minus every refund that has not failed: partial refunds are capped cumulatively.
    pub(crate) fn refundable(&self, order: &Order) -> i64 {
        let taken: i64 = self
            .refunds
            .values()
            .filter(|r| {
                r.original_merchant_order_id == order.merchant_order_id
                    && r.state != RefundState::Failed
            })
            .map(|r| r.amount)
            .sum();
        order.amount - taken
    }

    /// Fails every pending order past its expiry; returns the ids that changed.
    pub(crate) fn expire_due(&mut self, now: i64) -> Vec<String> {
        self.orders
            .values_mut()
            .filter_map(|o| o.expire_if_due(now).then(|| o.merchant_order_id.clone()))
            .collect()
    }
}

fn insert_error(m: &mut Map<String, Value>, error: Option<&ErrorCodes>) {
    if let Some(e) = error {
        m.insert("errorCode".into(), json!(e.code));
        m.insert("detailedErrorCode".into(), json!(e.detailed));
    }
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// PhonePe-looking id: prefix + yyMMddHHmmssSSS (IST, as in sandbox samples) + 7 random digits.
pub(crate) fn phonepe_id(prefix: &str) -> String {
    let ist = Utc::now() + TimeDelta::minutes(330);
    let stamp = ist.format("%y%m%d%H%M%S%3f");
    format!("{prefix}{stamp}{}", random_digits(7))
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}
