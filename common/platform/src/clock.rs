//! The time every rule reads: payment windows, leases and back-off, rate-limit windows, the
//! JWKS cache. Functions are built with one `SharedClock` (`Services::clock`): `main.rs`
//! passes the system's, tests a `TestClock` they move on instead of sleeping until a deadline
//! has passed. Time that only stamps a record (`updatedAt`) or bounds how long this process
//! may keep working (a Lambda's budget, an HTTP timeout) is not a rule and stays off it.

use mongodb::bson::DateTime;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Now, as the database stores it.
    fn now(&self) -> DateTime {
        DateTime::from_millis(self.now_ms())
    }

    /// `by` from now (earlier for a negative `by`).
    fn after_ms(&self, by: i64) -> DateTime {
        DateTime::from_millis(self.now_ms().saturating_add(by))
    }
}

/// The clock a function is built with, shared by everything in it that reads the time.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock: what every deployed function runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock a test moves: the system's time, plus however far the test has advanced it. It
/// runs on by itself, so records stamped with the system's time and rules read on this clock
/// agree until the test moves it; `advance` then makes a deadline pass at once.
#[derive(Debug, Default)]
pub struct TestClock {
    ahead_ms: AtomicI64,
}

impl TestClock {
    pub fn new() -> Arc<TestClock> {
        Arc::new(TestClock::default())
    }

    /// Moves the clock `by` forward, for everything built with it.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).expect("a test advances by less than an age");
        self.ahead_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.ahead_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read` on `clock`, bracketed by two readings of the system's clock.
    fn between(clock: &dyn Clock) -> (i64, i64, i64) {
        let before = SystemClock.now_ms();
        let read = clock.now_ms();
        (before, read, SystemClock.now_ms())
    }

    #[test]
    fn a_test_clock_runs_with_the_system_until_advanced_and_then_ahead_of_it() {
        let clock = TestClock::new();
        let (before, read, after) = between(&*clock);
        assert!(before <= read && read <= after);
        clock.advance(Duration::from_secs(90));
        let (before, read, after) = between(&*clock);
        assert!(before + 90_000 <= read && read <= after + 90_000);
        let shared: SharedClock = clock;
        assert!(shared.after_ms(-90_000).timestamp_millis() <= SystemClock.now_ms());
    }
}
