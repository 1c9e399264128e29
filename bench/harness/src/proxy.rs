//! Timing proxies in front of everything a function waits on: MongoDB (wire protocol, per
//! command) and the HTTP services (SES emulator, PhonePe simulator). Subtracting the time
//! something was outstanding from an invocation's latency leaves what our code, the driver,
//! the SDKs and the runtime cost.
//!
//! The MongoDB proxy also logs every command it forwards (name, collection, in a
//! transaction or not) and can hold each reply back by a fixed round trip time, so a run
//! against a database on the same machine shows what a network hop to Atlas would add.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Busy {
    outstanding: u32,
    since: Option<Instant>,
    total: Duration,
    answered: u64,
}

/// Wall time during which at least one request was outstanding: a union, not a sum, so
/// concurrent requests (the mail workers of `jobs`) are not counted twice.
#[derive(Clone, Default)]
pub struct Meter(Arc<Mutex<Busy>>);

impl Meter {
    fn begin(&self, at: Instant) {
        let mut b = self.0.lock().unwrap();
        if b.outstanding == 0 {
            b.since = Some(at);
        }
        b.outstanding += 1;
    }

    fn end(&self) {
        let mut b = self.0.lock().unwrap();
        b.outstanding = b.outstanding.saturating_sub(1);
        b.answered += 1;
        if b.outstanding == 0 {
            if let Some(since) = b.since.take() {
                b.total += since.elapsed();
            }
        }
    }

    /// (time outstanding so far, requests answered so far).
    pub fn read(&self) -> (Duration, u64) {
        let b = self.0.lock().unwrap();
        let open = b.since.map_or(Duration::ZERO, |s| s.elapsed());
        (b.total + open, b.answered)
    }
}

/// One command a function sent: its name, the collection it names (none for `hello`,
/// `commitTransaction` and the like), and whether it ran inside a multi-document transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Command {
    pub name: String,
    pub collection: Option<String>,
    pub in_txn: bool,
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.collection {
            Some(c) => write!(f, "{} {c}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Every command the MongoDB proxy forwarded (monitoring `hello`s excepted), in the order
/// it forwarded them.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Command>>>);

impl Log {
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The commands forwarded since the log held `from` of them.
    pub fn since(&self, from: usize) -> Vec<Command> {
        self.0
            .lock()
            .unwrap()
            .get(from..)
            .unwrap_or_default()
            .to_vec()
    }

    fn push(&self, c: Command) {
        self.0.lock().unwrap().push(c);
    }
}

async fn listen(
    upstream: String,
    serve: impl Fn(TcpStream, TcpStream) -> tokio::task::JoinHandle<()> + Send + 'static,
) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if let Ok(server) = TcpStream::connect(&upstream).await {
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                serve(client, server);
            }
        }
    });
    Ok(addr)
}

/// A MongoDB proxy in front of `upstream` (host:port); returns its address. Every reply
/// reaches the client `rtt` after the server sent it (the request goes through at once), so
/// each command's round trip grows by `rtt`, as a network between function and database
/// would make it.
pub async fn mongodb(
    upstream: String,
    meters: Vec<Meter>,
    rtt: Duration,
    log: Log,
) -> anyhow::Result<String> {
    listen(upstream, move |c, s| {
        tokio::spawn(pump_mongodb(c, s, meters.clone(), rtt, log.clone()))
    })
    .await
}

/// An HTTP/1 proxy in front of `upstream`: a request is outstanding from its first byte to
/// the first byte of the answer, which reaches the client `rtt` after the server sent it
/// (SES and PhonePe are an internet round trip away from Lambda, not on its machine).
pub async fn http(upstream: String, meters: Vec<Meter>, rtt: Duration) -> anyhow::Result<String> {
    listen(upstream, move |c, s| {
        tokio::spawn(pump_http(c, s, meters.clone(), rtt))
    })
    .await
}

async fn read_message(s: &mut (impl AsyncReadExt + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    let len = i32::from_le_bytes(head).max(16) as usize;
    let mut msg = vec![0u8; len];
    msg[..4].copy_from_slice(&head);
    s.read_exact(&mut msg[4..]).await?;
    Ok(msg)
}

fn i32_at(msg: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(msg[at..at + 4].try_into().unwrap())
}

/// The command document of a request: an OP_MSG's body section, or the query of an
/// OP_QUERY (what a driver's opening handshake uses when no API version is declared).
fn body(msg: &[u8]) -> Option<&mongodb::bson::RawDocument> {
    let at = match i32_at(msg, 12) {
        2013 if msg.get(20) == Some(&0) => 21,
        2004 => 20 + msg.get(20..)?.iter().position(|b| *b == 0)? + 1 + 8,
        _ => return None,
    };
    let len = i32::from_le_bytes(msg.get(at..at + 4)?.try_into().ok()?) as usize;
    mongodb::bson::RawDocument::from_bytes(msg.get(at..at + len)?).ok()
}

/// The command name of a request: the first key of its command document.
fn command(msg: &[u8]) -> Option<&str> {
    body(msg)?.iter().next()?.ok().map(|(k, _)| k)
}

/// (collection, in a transaction) of a request: the collection is the string value of the
/// command's first key (`find: "products"`), or `collection` for `getMore`.
fn details(msg: &[u8]) -> (Option<String>, bool) {
    let Some(body) = body(msg) else {
        return (None, false);
    };
    let collection = match body.iter().next().and_then(Result::ok) {
        Some((_, mongodb::bson::RawBsonRef::String(c))) => Some(c.to_owned()),
        _ => body.get_str("collection").ok().map(str::to_owned),
    };
    // Commands in a transaction carry `autocommit: false`; retryable writes only `txnNumber`.
    let in_txn = body.get_bool("autocommit") == Ok(false);
    (collection, in_txn)
}

/// How much longer than asked the last holds took (ns, a moving average): waking a
/// sleeping thread and getting back onto a runtime worker costs a few hundred µs on a busy
/// machine, which `hold` asks that much less for.
static OVERSHOOT_NS: AtomicU64 = AtomicU64::new(0);

/// Holds the caller up for `d`, on average: tokio's timer rounds up to whole milliseconds,
/// which would turn a 1.5 ms round trip into 2, so a blocking thread sleeps instead, asked
/// for `d` less the recent overshoot.
async fn hold(d: Duration) {
    if d.is_zero() {
        return;
    }
    let start = Instant::now();
    let ask = d.saturating_sub(Duration::from_nanos(OVERSHOOT_NS.load(Ordering::Relaxed)));
    let _ = tokio::task::spawn_blocking(move || std::thread::sleep(ask)).await;
    let over = start.elapsed().saturating_sub(ask).min(d).as_nanos() as u64;
    let est = OVERSHOOT_NS.load(Ordering::Relaxed);
    OVERSHOOT_NS.store(est - est / 8 + over / 8, Ordering::Relaxed);
}

async fn pump_mongodb(
    client: TcpStream,
    server: TcpStream,
    meters: Vec<Meter>,
    rtt: Duration,
    log: Log,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let pending: Arc<Mutex<HashMap<i32, ()>>> = Arc::default();
    let (p, p_down) = (pending.clone(), pending.clone());
    let (m, m_down) = (meters.clone(), meters.clone());
    let up = async move {
        let mut first = true;
        while let Ok(msg) = read_message(&mut cr).await {
            // A connection's opening handshake is real waiting; the periodic (and possibly
            // long-polling) `hello` of the topology monitor afterwards is not.
            let monitoring =
                !first && matches!(command(&msg), Some("hello" | "isMaster" | "ismaster"));
            first = false;
            if !monitoring {
                if let Some(name) = command(&msg) {
                    let (collection, in_txn) = details(&msg);
                    log.push(Command {
                        name: name.to_owned(),
                        collection,
                        in_txn,
                    });
                }
                let at = Instant::now();
                p.lock().unwrap().insert(i32_at(&msg, 4), ());
                m.iter().for_each(|m| m.begin(at));
            }
            if sw.write_all(&msg).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        while let Ok(msg) = read_message(&mut sr).await {
            // Monitoring replies are held back too: the whole link is that far away. The
            // driver never has two commands outstanding on one connection, so holding
            // replies one after another delays none by more than `rtt`.
            hold(rtt).await;
            if p_down.lock().unwrap().remove(&i32_at(&msg, 8)).is_some() {
                m_down.iter().for_each(Meter::end);
            }
            if cw.write_all(&msg).await.is_err() {
                break;
            }
        }
    };
    tokio::select! { _ = up => {}, _ = down => {} }
    // Commands cut off by a killed process must not stay outstanding forever.
    for _ in pending.lock().unwrap().drain() {
        meters.iter().for_each(Meter::end);
    }
}

async fn pump_http(client: TcpStream, server: TcpStream, meters: Vec<Meter>, rtt: Duration) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let waiting = Arc::new(Mutex::new(false));
    let (w, w_down) = (waiting.clone(), waiting.clone());
    let (m, m_down) = (meters.clone(), meters.clone());
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = cr.read(&mut buf).await {
            let at = Instant::now();
            {
                let mut w = w.lock().unwrap();
                if !*w {
                    *w = true;
                    m.iter().for_each(|m| m.begin(at));
                }
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = sr.read(&mut buf).await {
            let answer_starts = *w_down.lock().unwrap();
            if answer_starts {
                hold(rtt).await;
                *w_down.lock().unwrap() = false;
                m_down.iter().for_each(Meter::end);
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! { _ = up => {}, _ = down => {} }
    // A request cut off mid-flight must not stay outstanding forever.
    if *waiting.lock().unwrap() {
        meters.iter().for_each(Meter::end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{doc, Document};

    fn op_msg(body: &Document) -> Vec<u8> {
        let mut b = Vec::new();
        body.to_writer(&mut b).unwrap();
        let mut m = vec![0u8; 16];
        m[12..16].copy_from_slice(&2013_i32.to_le_bytes());
        m.extend_from_slice(&0_u32.to_le_bytes());
        m.push(0);
        m.extend_from_slice(&b);
        let len = m.len() as i32;
        m[..4].copy_from_slice(&len.to_le_bytes());
        m
    }

    fn op_query(body: &Document) -> Vec<u8> {
        let mut m = vec![0u8; 16];
        m[12..16].copy_from_slice(&2004_i32.to_le_bytes());
        m.extend_from_slice(&0_u32.to_le_bytes());
        m.extend_from_slice(b"admin.$cmd\0");
        m.extend_from_slice(&0_i32.to_le_bytes());
        m.extend_from_slice(&(-1_i32).to_le_bytes());
        body.to_writer(&mut m).unwrap();
        let len = m.len() as i32;
        m[..4].copy_from_slice(&len.to_le_bytes());
        m
    }

    #[test]
    fn names_the_command_its_collection_and_the_transaction() {
        let find = op_msg(&doc! { "find": "products", "filter": {}, "$db": "shop" });
        assert_eq!(command(&find), Some("find"));
        assert_eq!(details(&find), (Some("products".into()), false));
        let in_txn = op_msg(&doc! { "update": "carts", "txnNumber": 3_i64, "autocommit": false });
        assert_eq!(details(&in_txn), (Some("carts".into()), true));
        let retryable = op_msg(&doc! { "insert": "orders", "txnNumber": 3_i64 });
        assert_eq!(details(&retryable), (Some("orders".into()), false));
        let commit = op_msg(&doc! { "commitTransaction": 1, "autocommit": false });
        assert_eq!(details(&commit), (None, true));
        let more = op_msg(&doc! { "getMore": 7_i64, "collection": "orders" });
        assert_eq!(details(&more), (Some("orders".into()), false));
        let handshake = op_query(&doc! { "isMaster": 1, "helloOk": true });
        assert_eq!(command(&handshake), Some("isMaster"));
        assert_eq!(command(&[0u8; 16]), None);
    }

    #[tokio::test]
    async fn hold_waits_about_as_long_as_asked() {
        let d = Duration::from_micros(1500);
        let start = Instant::now();
        for _ in 0..20 {
            hold(d).await;
        }
        let each = start.elapsed() / 20;
        assert!(each >= Duration::from_micros(1000), "{each:?}");
        assert!(each < Duration::from_millis(10), "{each:?}");
    }
}
