//! The SES client and the one call we make: `SendEmail` with an HTML and a plain-text part.

use super::render::Rendered;
use crate::config::MailConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ses::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use std::time::Duration;

/// Longest a single SendEmail may take; well inside the outbox lease, so an entry is never
/// still being sent when another run may claim it again.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why SES did not take a mail.
#[derive(Debug)]
pub(crate) enum SendError {
    /// SES will never accept this mail as it stands (unverified sender, bad address...).
    Permanent(String),
    /// Worth trying again later: SES answered with throttling or a 5xx, or the request never
    /// left (connection refused, DNS).
    Transient(String),
    /// The request went out and no answer came back (a timeout): SES may have accepted the
    /// mail, so sending it again could mail the customer twice.
    Unknown(String),
}

pub(crate) struct Ses {
    pub(crate) client: aws_sdk_ses::Client,
    from: String,
    reply_to: Option<String>,
}

impl Ses {
    pub(crate) async fn new(config: &MailConfig) -> Ses {
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
    pub(crate) async fn send(
        &self,
        to: &str,
        mail: &Rendered,
        budget: Duration,
    ) -> Result<String, SendError> {
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
