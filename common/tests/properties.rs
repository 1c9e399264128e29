//! Property tests of the parsers that read untrusted input: PhonePe webhook bodies and their
//! Authorization header, Clerk session tokens, shipping addresses and JSON request bodies.
//! Case counts stay modest so `make test` stays quick; a failure prints the shrunk input.

use base64::Engine;
use common::integrations::phonepe::{
    verify_webhook, webhook_authorization, WebhookBody, WebhookEvent,
};
use common::platform::auth::Verifier;
use common::platform::clock::SystemClock;
use common::platform::config::{ClerkConfig, ClerkKey};
use common::platform::http::parse_json;
use common::shop::vocabulary::address::Address;
use common::shop::vocabulary::address::{
    canonical_state, normalize_mobile, validate, AddressInput, STATES_AND_UNION_TERRITORIES,
};
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::LazyLock;

const CASES: u32 = 256;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// Any JSON value, a few levels deep, with keys that look like operators and paths too.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map("[a-zA-Z$._]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------
// PhonePe webhooks
// ---------------------------------------------------------------------------------------

const EVENTS: &[(&str, WebhookEvent)] = &[
    ("checkout.order.completed", WebhookEvent::OrderCompleted),
    ("checkout.order.failed", WebhookEvent::OrderFailed),
    (
        "checkout.transaction.attempt.failed",
        WebhookEvent::TransactionAttemptFailed,
    ),
    ("pg.refund.accepted", WebhookEvent::RefundAccepted),
    ("pg.refund.completed", WebhookEvent::RefundCompleted),
    ("pg.refund.failed", WebhookEvent::RefundFailed),
];

const PAYLOAD_KEYS: &[&str] = &[
    "orderId",
    "merchantId",
    "merchantOrderId",
    "state",
    "amount",
    "expireAt",
    "errorCode",
    "detailedErrorCode",
    "metaInfo",
    "paymentDetails",
    "merchantRefundId",
    "originalMerchantOrderId",
    "refundId",
];

/// Webhook-shaped bodies whose fields hold values of any type.
fn webhook_like() -> impl Strategy<Value = Value> {
    let event = prop_oneof![
        prop::sample::select(EVENTS.iter().map(|(e, _)| json!(e)).collect::<Vec<_>>()),
        json_value(),
    ];
    let payload = btree_map(
        prop_oneof![
            prop::sample::select(PAYLOAD_KEYS.to_vec()).prop_map(str::to_owned),
            "[a-z$.]{1,8}"
        ],
        json_value(),
        0..8,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    (
        prop::option::of(event),
        prop::option::of(json_value()),
        prop::option::of(payload),
    )
        .prop_map(|(event, kind, payload)| {
            let mut body = serde_json::Map::new();
            if let Some(e) = event {
                body.insert("event".into(), e);
            }
            if let Some(k) = kind {
                body.insert("type".into(), k);
            }
            if let Some(p) = payload {
                body.insert("payload".into(), p);
            }
            Value::Object(body)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn webhook_header_verifies_exactly_when_it_is_the_hash(
        username in ".{0,24}",
        password in ".{0,24}",
        header in ".{0,80}",
    ) {
        let expected = webhook_authorization(&username, &password);
        prop_assert_eq!(
            verify_webhook(Some(&header), &username, &password),
            header == expected
        );
        prop_assert!(verify_webhook(Some(&expected), &username, &password));
        prop_assert!(!verify_webhook(None, &username, &password));
    }

    #[test]
    fn a_webhook_header_one_character_off_never_verifies(
        username in "[A-Za-z0-9_]{5,20}",
        password in "[A-Za-z0-9]{8,20}",
        at in 0usize..64,
        with in "[0-9a-fA-F ]",
    ) {
        let expected = webhook_authorization(&username, &password);
        let mut forged = expected.clone();
        forged.replace_range(at..at + 1, &with);
        prop_assume!(forged != expected);
        prop_assert!(!verify_webhook(Some(&forged), &username, &password));
    }

    #[test]
    fn webhook_bodies_of_arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(body) = serde_json::from_slice::<WebhookBody>(&bytes) {
            let _ = body.event();
        }
    }

    #[test]
    fn webhook_shaped_bodies_never_panic_and_read_event_first(body in webhook_like()) {
        let text = body.to_string();
        if let Ok(parsed) = serde_json::from_slice::<WebhookBody>(text.as_bytes()) {
            let event = parsed.event();
            match body.get("event").and_then(Value::as_str) {
                Some(e) => {
                    let known = EVENTS.iter().find(|(name, _)| *name == e).map(|(_, ev)| *ev);
                    prop_assert_eq!(event, known.unwrap_or(WebhookEvent::Unknown));
                }
                // Only a missing `event` lets the deprecated `type` speak.
                None if !body.get("type").is_some_and(Value::is_string) => {
                    prop_assert_eq!(event, WebhookEvent::Unknown);
                }
                None => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Clerk session tokens
// ---------------------------------------------------------------------------------------

const ISSUER: &str = "https://clerk.test.pitalya.example";
const PRIVATE_PEM: &str = include_str!("../../dev/server/tests/fixtures/clerk-test-private.pem");
const PUBLIC_PEM: &str = include_str!("../../dev/server/tests/fixtures/clerk-test-public.pem");
const OTHER_PRIVATE_PEM: &str =
    include_str!("../../dev/server/tests/fixtures/other-key-private.pem");

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new(
        &ClerkConfig {
            issuer: ISSUER.into(),
            key: ClerkKey::Pem(PUBLIC_PEM.into()),
            authorized_parties: Vec::new(),
            admin_user_ids: Vec::new(),
        },
        SystemClock::shared(),
    )
    .unwrap()
});

fn verify(token: &str) -> Result<common::platform::auth::User, common::platform::Error> {
    futures::executor::block_on(VERIFIER.verify(token))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `header.claims` exactly as given (whatever the header claims about itself).
fn sign_raw(header: &Value, claims: &Value, pem: &str) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{message}.{sig}")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn good_claims() -> Value {
    json!({ "sub": "user_prop", "iss": ISSUER, "exp": now() + 600, "nbf": now() - 2 })
}

fn rs256_header() -> Value {
    json!({ "alg": "RS256", "typ": "JWT", "kid": "ins_test_key_1" })
}

/// One choice per claim the verifier has a rule for; `expect_ok` is the rule book.
#[derive(Debug, Clone)]
struct ClaimsCase {
    sub: u8,
    iss: u8,
    exp: u8,
    nbf: u8,
    sts: u8,
    metadata: u8,
    email: u8,
    extra: std::collections::BTreeMap<String, Value>,
}

impl ClaimsCase {
    fn claims(&self) -> Value {
        let t = now();
        let mut c = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                c.insert(k.into(), v);
            }
        };
        put(
            "sub",
            [
                Some(json!("user_prop")),
                Some(json!("")),
                Some(json!(42)),
                None,
            ][self.sub as usize]
                .clone(),
        );
        put(
            "iss",
            [
                Some(json!(ISSUER)),
                Some(json!("https://evil.example")),
                Some(json!(1)),
                None,
            ][self.iss as usize]
                .clone(),
        );
        put(
            "exp",
            [
                Some(json!(t + 600)),
                Some(json!(t - 60)),
                Some(json!("tomorrow")),
                None,
            ][self.exp as usize]
                .clone(),
        );
        put(
            "nbf",
            [None, Some(json!(t - 60)), Some(json!(t + 600))][self.nbf as usize].clone(),
        );
        put(
            "sts",
            [None, Some(json!("active")), Some(json!("pending"))][self.sts as usize].clone(),
        );
        put(
            "metadata",
            [
                None,
                Some(json!({ "role": "admin" })),
                Some(json!({ "role": 5 })),
                Some(json!(null)),
                Some(json!("admin")),
            ][self.metadata as usize]
                .clone(),
        );
        put(
            "email",
            [None, Some(json!("a@b.example")), Some(json!(7))][self.email as usize].clone(),
        );
        for (k, v) in &self.extra {
            c.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(c)
    }

    fn expect_ok(&self) -> bool {
        self.sub == 0 && self.iss == 0 && self.exp == 0 && self.nbf != 2 && self.sts != 2
        // A `metadata` or `email` claim of the wrong shape counts as absent (not admin, no
        // e-mail), as a misconfigured session-token template must not lock everyone out.
    }
}

/// Option 0 (always a legal one) most of the time, so that cases where exactly one rule is
/// broken are common enough for every rule to be tested in each run.
fn mostly_legal(options: u8) -> impl Strategy<Value = u8> {
    prop_oneof![5 => Just(0u8), 1 => 1..options]
}

fn claims_case() -> impl Strategy<Value = ClaimsCase> {
    (
        mostly_legal(4),
        mostly_legal(4),
        mostly_legal(4),
        mostly_legal(3),
        mostly_legal(3),
        mostly_legal(5),
        mostly_legal(3),
        // Unrelated claims of any type must not matter (`x_` keeps them off the rule book).
        btree_map("x_[a-z]{1,6}", json_value(), 0..4),
    )
        .prop_map(
            |(sub, iss, exp, nbf, sts, metadata, email, extra)| ClaimsCase {
                sub,
                iss,
                exp,
                nbf,
                sts,
                metadata,
                email,
                extra,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_are_never_tokens(s in ".{0,300}") {
        let e = verify(&s).unwrap_err();
        prop_assert_eq!(e.code(), "UNAUTHENTICATED");
    }

    #[test]
    fn arbitrary_bytes_are_never_tokens(bytes in vec(any::<u8>(), 0..300)) {
        prop_assert!(verify(&String::from_utf8_lossy(&bytes)).is_err());
    }

    #[test]
    fn arbitrary_header_and_claims_json_without_a_real_signature_never_verify(
        header in json_value(),
        claims in json_value(),
        sig in vec(any::<u8>(), 0..300),
    ) {
        let token = format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes()),
            b64(&sig)
        );
        prop_assert!(verify(&token).is_err());
    }

    #[test]
    fn only_an_rs256_header_over_an_rs256_signature_verifies(
        alg in prop_oneof![
            Just(json!("RS256")),
            prop::sample::select(vec![
                "none", "None", "NONE", "HS256", "HS384", "HS512", "RS384", "RS512", "ES256",
                "PS256", "EdDSA", "rs256", "RS256 ", "",
            ]).prop_map(|a| json!(a)),
            json_value(),
        ],
        typ in prop::option::of(prop_oneof![Just(json!("JWT")), json_value()]),
    ) {
        let mut header = json!({ "alg": alg, "kid": "ins_test_key_1" });
        if let Some(t) = &typ {
            header["typ"] = t.clone();
        }
        let token = sign_raw(&header, &good_claims(), PRIVATE_PEM);
        // `"typ": null` is as good as no `typ`.
        let honest = alg == json!("RS256")
            && typ.as_ref().is_none_or(|t| t.is_null() || *t == json!("JWT"));
        prop_assert_eq!(verify(&token).is_ok(), honest, "header {}", header);
    }

    #[test]
    fn correctly_signed_claims_verify_exactly_when_the_rules_allow(case in claims_case()) {
        let token = sign_raw(&rs256_header(), &case.claims(), PRIVATE_PEM);
        let got = verify(&token);
        prop_assert_eq!(got.is_ok(), case.expect_ok(), "claims {}", case.claims());
        if let Ok(user) = got {
            prop_assert_eq!(user.id.as_str(), "user_prop");
            prop_assert_eq!(user.is_admin, case.metadata == 1);
            prop_assert_eq!(user.email.is_some(), case.email == 1);
        }
    }

    #[test]
    fn the_same_claims_under_another_key_never_verify(case in claims_case()) {
        let token = sign_raw(&rs256_header(), &case.claims(), OTHER_PRIVATE_PEM);
        prop_assert!(verify(&token).is_err());
    }

    #[test]
    fn any_one_character_change_to_a_valid_token_is_refused(
        at in any::<prop::sample::Index>(),
        with in "[A-Za-z0-9_.=+/-]",
    ) {
        let token = sign_raw(&rs256_header(), &good_claims(), PRIVATE_PEM);
        prop_assert!(verify(&token).is_ok());
        let i = at.index(token.len());
        let mut forged = token.clone();
        forged.replace_range(i..i + 1, &with);
        prop_assume!(forged != token);
        prop_assert!(verify(&forged).is_err(), "{} accepted", forged);
    }
}

// ---------------------------------------------------------------------------------------
// Shipping addresses
// ---------------------------------------------------------------------------------------

fn any_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        ".{0,40}",
        "\\PC{0,220}",
        "[ \\t\\n\\u{0}\\u{85}\\u{2028}\\u{200b}\\u{feff}a-z0-9+&-]{0,30}",
    ])
}

fn any_address() -> impl Strategy<Value = AddressInput> {
    (
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
    )
        .prop_map(
            |(name, phone, line1, line2, city, state, pincode, country)| AddressInput {
                name,
                phone,
                line1,
                line2,
                city,
                state,
                pincode,
                country,
            },
        )
}

/// Odd but legal spellings of a state: any case, stray spaces, `&` for "and", old names.
fn state_spelling() -> impl Strategy<Value = String> {
    let canonical = prop::sample::select(STATES_AND_UNION_TERRITORIES.to_vec());
    prop_oneof![
        (canonical, any::<bool>(), "[ ]{0,3}").prop_map(|(s, upper, pad)| {
            let s = s.replace(" and ", if upper { " & " } else { " and " });
            let s = if upper {
                s.to_uppercase()
            } else {
                s.to_lowercase()
            };
            format!("{pad}{}{pad}", s.replace(' ', "  "))
        }),
        prop::sample::select(vec!["Orissa", "PONDICHERRY", "nct of delhi", "Uttaranchal"])
            .prop_map(str::to_owned),
    ]
}

/// A mobile number as shoppers type it, and the ten digits it stands for.
fn mobile_spelling() -> impl Strategy<Value = (String, String)> {
    ("[6-9][0-9]{9}", 0u8..5).prop_map(|(n, style)| {
        let typed = match style {
            0 => n.clone(),
            1 => format!("+91{n}"),
            2 => format!("91{n}"),
            3 => format!("+91 {} {}", &n[..5], &n[5..]),
            _ => format!("{}-{}", &n[..5], &n[5..]),
        };
        (typed, n)
    })
}

fn valid_address() -> impl Strategy<Value = (AddressInput, String)> {
    (
        "[A-Za-z\\u{0900}-\\u{097f}][A-Za-z\\u{0900}-\\u{097f} .'-]{0,60}",
        mobile_spelling(),
        "[0-9A-Za-z][0-9A-Za-z ,/#-]{0,80}",
        prop::option::of("[0-9A-Za-z ,/#-]{0,80}"),
        "[A-Za-z][A-Za-z .-]{0,40}",
        state_spelling(),
        "[1-9][0-9]{5}",
        prop::option::of(prop::sample::select(vec!["IN", "in", " In "])),
    )
        .prop_map(
            |(name, (phone, digits), line1, line2, city, state, pincode, country)| {
                (
                    AddressInput {
                        name: Some(name),
                        phone: Some(phone),
                        line1: Some(line1),
                        line2,
                        city: Some(city),
                        state: Some(state),
                        pincode: Some(format!(" {pincode} ")),
                        country: country.map(str::to_owned),
                    },
                    digits,
                )
            },
        )
}

fn as_input(a: &Address) -> AddressInput {
    AddressInput {
        name: Some(a.name.clone()),
        phone: Some(a.phone.clone()),
        line1: Some(a.line1.clone()),
        line2: a.line2.clone(),
        city: Some(a.city.clone()),
        state: Some(a.state.clone()),
        pincode: Some(a.pincode.clone()),
        country: Some(a.country.clone()),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn address_validation_never_panics_and_names_fields_under_the_prefix(input in any_address()) {
        match validate("shippingAddress", &input) {
            Ok(a) => {
                // Whatever was accepted is already in its canonical form.
                prop_assert_eq!(validate("shippingAddress", &as_input(&a)), Ok(a));
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(e.field.starts_with("shippingAddress."), "{}", e.field);
                }
            }
        }
    }

    #[test]
    fn a_valid_address_is_accepted_normalised_and_round_trips(
        (input, digits) in valid_address(),
    ) {
        let a = validate("a", &input).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&a.phone, &format!("+91{digits}"));
        prop_assert!(STATES_AND_UNION_TERRITORIES.contains(&a.state.as_str()));
        prop_assert_eq!(a.pincode.len(), 6);
        prop_assert_eq!(&a.country, "IN");
        // Normalising twice changes nothing.
        prop_assert_eq!(validate("a", &as_input(&a)), Ok(a.clone()));
        // Stored and read back (the order document), and sent and read back (the API).
        let stored = mongodb::bson::to_document(&a).unwrap();
        prop_assert_eq!(&mongodb::bson::from_document::<Address>(stored).unwrap(), &a);
        let json = serde_json::to_string(&input).unwrap();
        let again: AddressInput = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(validate("a", &again), Ok(a));
    }

    #[test]
    fn mobile_and_state_normalisation_are_idempotent(raw in ".{0,20}", state in ".{0,40}") {
        if let Some(m) = normalize_mobile(&raw) {
            prop_assert_eq!(normalize_mobile(&m), Some(m.clone()));
        }
        if let Some(s) = canonical_state(&state) {
            prop_assert_eq!(canonical_state(s), Some(s));
        }
    }

    #[test]
    fn mobile_spellings_normalise_to_one_number((typed, digits) in mobile_spelling()) {
        prop_assert_eq!(normalize_mobile(&typed), Some(format!("+91{digits}")));
    }
}

// ---------------------------------------------------------------------------------------
// JSON request bodies
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Line {
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    quantity: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[test]
fn an_array_is_not_a_struct_body() {
    // Regression: serde_json fills a struct from an array by position.
    for body in [
        &br#"["64b7f0c2a1b2c3d4e5f60718", 2]"#[..],
        b"[]",
        b" [null]",
    ] {
        let e = parse_json::<Line>(body).unwrap_err();
        assert_eq!(e.code(), "VALIDATION_FAILED");
        assert_eq!(e.to_problem(None)["errors"][0]["field"], "body");
        assert_eq!(
            parse_json::<Nothing>(body).unwrap_err().code(),
            "VALIDATION_FAILED"
        );
    }
    assert_eq!(
        parse_json::<Line>(b"[1,").unwrap_err().code(),
        "INVALID_JSON"
    );
    // Bodies that are not structs keep their own shapes.
    assert_eq!(parse_json::<Vec<i64>>(b"[1, 2]").unwrap(), [1, 2]);
    assert_eq!(parse_json::<String>(b"\"code\"").unwrap(), "code");
    let line: Line = parse_json(br#" {"productId": "x", "quantity": 2}"#).unwrap();
    assert_eq!(
        (line.product_id.as_deref(), line.quantity),
        (Some("x"), Some(2))
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_bodies_of_arbitrary_bytes_are_typed_refusals(bytes in vec(any::<u8>(), 0..512)) {
        match parse_json::<Line>(&bytes) {
            Ok(_) => prop_assert_eq!(
                bytes.iter().find(|b| !b.is_ascii_whitespace()),
                Some(&b'{')
            ),
            Err(e) => prop_assert!(
                matches!(e.code(), "INVALID_JSON" | "VALIDATION_FAILED"),
                "{}",
                e.code()
            ),
        }
    }

    #[test]
    fn only_objects_fill_a_struct(body in json_value()) {
        let text = body.to_string();
        let parsed = parse_json::<Line>(text.as_bytes());
        if !body.is_object() {
            let e = parsed.unwrap_err();
            prop_assert_eq!(e.code(), "VALIDATION_FAILED");
            prop_assert_eq!(&e.to_problem(None)["errors"][0]["field"], "body");
        } else if let Err(e) = parsed {
            // An object is refused only for what is in it, never as a whole.
            prop_assert_eq!(e.code(), "VALIDATION_FAILED");
        }
    }

    #[test]
    fn bodies_over_the_limit_are_413(extra in 1usize..1024) {
        let mut body = b"{}".to_vec();
        body.resize(common::platform::http::MAX_BODY_BYTES + extra, b' ');
        prop_assert_eq!(parse_json::<Line>(&body).unwrap_err().code(), "PAYLOAD_TOO_LARGE");
    }
}
