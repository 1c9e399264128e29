//! The SES client and the two calls we make: `SendEmail` with an HTML and a plain-text part,
//! and, for a mail with attachments (a tax invoice, a credit note), `SendRawEmail` with a
//! MIME message built here, since `SendEmail` cannot carry attachments.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ses::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::{Body, Content, Destination, Message, RawMessage};
use base64::Engine;
use platform::config::MailConfig;
use std::time::Duration;

/// A mail as SES sends it: a subject, and the same message as HTML and as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Longest a single SendEmail may take; well inside the outbox lease, so an entry is never
/// still being sent when another run may claim it again.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why SES did not take a mail.
#[derive(Debug)]
pub enum SendError {
    /// SES will never accept this mail as it stands (unverified sender, bad address...).
    Permanent(String),
    /// Worth trying again later: SES answered with throttling or a 5xx, or the request never
    /// left (connection refused, DNS).
    Transient(String),
    /// The request went out and no answer came back (a timeout): SES may have accepted the
    /// mail, so sending it again could mail the customer twice.
    Unknown(String),
}

pub struct Ses {
    pub client: aws_sdk_ses::Client,
    from: String,
    reply_to: Option<String>,
}

impl Ses {
    pub async fn new(config: &MailConfig) -> Ses {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            // The outbox is the retry loop (with backoff measured in minutes); SDK retries
            // inside one attempt would only eat the short budget of a send right after commit.
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts(CALL_TIMEOUT));
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        Ses {
            client: aws_sdk_ses::Client::new(&shared),
            from: config.from.clone(),
            reply_to: config.reply_to.clone(),
        }
    }

    /// Sends one mail and returns SES's message id. `budget` caps this call below
    /// `CALL_TIMEOUT` when the caller has less time left.
    pub async fn send(
        &self,
        to: &str,
        mail: &Mail,
        attachments: &[Attachment],
        budget: Duration,
    ) -> Result<String, SendError> {
        if !attachments.is_empty() {
            return self.send_raw(to, mail, attachments, budget).await;
        }
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Permanent(format!("build message: {e}")))
        };
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .html(content(&mail.html)?)
                    .text(content(&mail.text)?)
                    .build(),
            )
            .build();
        let mut request = self
            .client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .message(message);
        if let Some(reply_to) = &self.reply_to {
            request = request.reply_to_addresses(reply_to);
        }
        let budget = budget.min(CALL_TIMEOUT);
        let result = request
            .customize()
            .config_override(
                aws_sdk_ses::config::Builder::default().timeout_config(timeouts(budget)),
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id().to_owned()),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn send_raw(
        &self,
        to: &str,
        mail: &Mail,
        attachments: &[Attachment],
        budget: Duration,
    ) -> Result<String, SendError> {
        let boundary = uuid::Uuid::new_v4().simple().to_string();
        let message = mime(
            &self.from,
            to,
            self.reply_to.as_deref(),
            mail,
            attachments,
            &boundary,
        );
        let raw = RawMessage::builder()
            .data(Blob::new(message.into_bytes()))
            .build()
            .map_err(|e| SendError::Permanent(format!("build raw message: {e}")))?;
        let budget = budget.min(CALL_TIMEOUT);
        let result = self
            .client
            .send_raw_email()
            .source(&self.from)
            .destinations(to)
            .raw_message(raw)
            .customize()
            .config_override(
                aws_sdk_ses::config::Builder::default().timeout_config(timeouts(budget)),
            )
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.message_id().to_owned()),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// A file attached to a mail.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// ASCII without quotes (we name the files): `PIT-2627-000001.pdf`.
    pub filename: String,
    pub content_type: &'static str,
    pub data: Vec<u8>,
}

/// Base64 in lines of 76, as MIME requires.
fn base64_lines(data: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// A header value as RFC 2047 encoded words of UTF-8, each short enough for a header line,
/// so any subject (a rupee sign, a long order number) travels intact and cannot break the
/// header block.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// `multipart/mixed`: the plain-text and HTML bodies as `multipart/alternative`, then each
/// attachment. Every part is base64, so no line of user text can end the headers or fake a
/// boundary.
pub fn mime(
    from: &str,
    to: &str,
    reply_to: Option<&str>,
    mail: &Mail,
    attachments: &[Attachment],
    boundary: &str,
) -> String {
    let mixed = format!("mixed-{boundary}");
    let alt = format!("alt-{boundary}");
    let mut m = String::new();
    m.push_str(&format!("From: {from}\r\nTo: {to}\r\n"));
    if let Some(r) = reply_to {
        m.push_str(&format!("Reply-To: {r}\r\n"));
    }
    m.push_str(&format!("Subject: {}\r\n", encoded_words(&mail.subject)));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\n\r\n"
    ));
    m.push_str(&format!(
        "--{mixed}\r\nContent-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n"
    ));
    for (kind, body) in [("text/plain", &mail.text), ("text/html", &mail.html)] {
        m.push_str(&format!(
            "--{alt}\r\nContent-Type: {kind}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        m.push_str(&base64_lines(body.as_bytes()));
    }
    m.push_str(&format!("--{alt}--\r\n"));
    for a in attachments {
        m.push_str(&format!(
            "--{mixed}\r\nContent-Type: {}; name=\"{}\"\r\nContent-Disposition: attachment; filename=\"{}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            a.content_type, a.filename, a.filename
        ));
        m.push_str(&base64_lines(&a.data));
    }
    m.push_str(&format!("--{mixed}--\r\n"));
    m
}

fn timeouts(total: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        // Always the same value: the SDK keeps one HTTP client (and connection pool) per
        // distinct connect timeout, so a per-call value leaked a client per mail. The
        // operation timeouts below still cap the whole call at `total`.
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(total)
        .operation_timeout(total)
        .build()
}

fn classify<E, R>(e: &SdkError<E, R>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("Unknown");
            let text = format!("{code}: {}", err.message().unwrap_or("no message"));
            if is_permanent(code) {
                SendError::Permanent(text)
            } else {
                SendError::Transient(text)
            }
        }
        SdkError::TimeoutError(_) => {
            SendError::Unknown("SES did not answer in time; it may have accepted the mail".into())
        }
        SdkError::ResponseError(_) => SendError::Unknown(
            "SES's answer could not be read; it may have accepted the mail".into(),
        ),
        // Display of these is terse ("dispatch failure"); the source says what happened.
        other => SendError::Transient(format!(
            "{other}: {}",
            std::error::Error::source(other)
                .map(|s| s.to_string())
                .unwrap_or_default()
        )),
    }
}

/// Codes SES returns for a mail it will never accept as it stands. Everything else (throttling,
/// 5xx, expired credentials, a paused account) may clear up, so it is retried until the
/// attempt cap.
fn is_permanent(code: &str) -> bool {
    matches!(
        code,
        "MessageRejected"
            | "MailFromDomainNotVerifiedException"
            | "MailFromDomainNotVerified"
            | "ConfigurationSetDoesNotExist"
            | "InvalidParameterValue"
            | "InvalidParameterCombination"
            | "MissingParameter"
            | "ValidationError"
    )
}

#[cfg(test)]
mod tests {
    use super::is_permanent;

    #[test]
    fn raw_mail_carries_both_bodies_and_the_attachment_in_base64() {
        use super::{mime, Attachment, Mail};
        let mail = Mail {
            subject: "Your order PIT-1001 has shipped — ₹2,299.00\r\nBcc: x@y.z".into(),
            html: "<p>Hi</p>".into(),
            text: "Hi\r\n--mixed-b--".into(),
        };
        let pdf = Attachment {
            filename: "PIT-2627-000001.pdf".into(),
            content_type: "application/pdf",
            data: b"%PDF-1.7 test".to_vec(),
        };
        let m = mime("shop@x.in", "a@b.in", Some("help@x.in"), &mail, &[pdf], "b");
        let (head, _) = m.split_once("\r\n\r\n").unwrap();
        assert!(
            !head.contains("Bcc"),
            "the subject cannot add headers: {head}"
        );
        assert!(head.contains("Reply-To: help@x.in"));
        assert_eq!(m.matches("--mixed-b\r\n").count(), 2, "bodies, attachment");
        assert!(m.ends_with("--mixed-b--\r\n"));
        assert!(m.contains("filename=\"PIT-2627-000001.pdf\""));
        assert!(m.contains("JVBERi0xLjcgdGVzdA=="), "the PDF, base64");
        assert!(m.lines().all(|l| l.len() <= 998));
    }

    #[test]
    fn rejections_are_permanent_and_throttling_is_not() {
        for code in [
            "MessageRejected",
            "MailFromDomainNotVerifiedException",
            "InvalidParameterValue",
        ] {
            assert!(is_permanent(code), "{code}");
        }
        for code in [
            "Throttling",
            "ServiceUnavailable",
            "InternalFailure",
            "AccountSendingPausedException",
            "InvalidClientTokenId",
        ] {
            assert!(!is_permanent(code), "{code}");
        }
    }
}
