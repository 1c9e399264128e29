//! Logging setup: JSON lines for CloudWatch (one object per line, with the request span's
//! `request_id` and `user_id` on every line), or human-readable text with `LOG_FORMAT=text`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,mongodb=warn,aws=warn,hyper=warn"));
    let text = std::env::var("LOG_FORMAT").is_ok_and(|v| v == "text");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // `try_init` so tests that build several apps in one process do not panic.
    let _ = if text {
        builder.with_ansi(false).try_init()
    } else {
        // Lambda's log pipeline adds its own timestamp; ours is still useful off Lambda.
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    };
}
