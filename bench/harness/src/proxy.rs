//! Timing proxies in front of everything a function waits on: MongoDB (wire protocol, per
//! command) and the HTTP services (SES emulator, PhonePe simulator). Subtracting the time
//! something was outstanding from an invocation's latency leaves what our code, the driver,
//! the SDKs and the runtime cost.

use std::collections::HashMap;
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

/// A MongoDB proxy in front of `upstream` (host:port); returns its address.
pub async fn mongodb(upstream: String, meters: Vec<Meter>) -> anyhow::Result<String> {
    listen(upstream, move |c, s| {
        tokio::spawn(pump_mongodb(c, s, meters.clone()))
    })
    .await
}

/// An HTTP/1 proxy in front of `upstream`: a request is outstanding from its first byte to
/// the first byte of the answer.
pub async fn http(upstream: String, meters: Vec<Meter>) -> anyhow::Result<String> {
    listen(upstream, move |c, s| {
        tokio::spawn(pump_http(c, s, meters.clone()))
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

/// The command name of an OP_MSG: the first key of its body section.
fn command(msg: &[u8]) -> Option<&str> {
    if i32_at(msg, 12) != 2013 || msg.len() < 27 || msg[20] != 0 {
        return None;
    }
    let key = &msg[26..];
    let end = key.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&key[..end]).ok()
}

async fn pump_mongodb(client: TcpStream, server: TcpStream, meters: Vec<Meter>) {
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

async fn pump_http(client: TcpStream, server: TcpStream, meters: Vec<Meter>) {
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
            {
                let mut w = w_down.lock().unwrap();
                if *w {
                    *w = false;
                    m_down.iter().for_each(Meter::end);
                }
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
