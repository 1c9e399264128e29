//! A local Lambda runtime API (the part a custom runtime talks to): hands out one event per
//! `GET …/invocation/next` and timestamps every response. Each cold start gets its own
//! listener, so a poll left behind by a killed process can never take the next one's event.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

type Event = (String, Bytes);

pub struct Answer {
    pub at: Instant,
    pub ok: bool,
    pub body: Bytes,
}

#[derive(Clone)]
struct Shared {
    function: String,
    waiting: Arc<Mutex<Option<oneshot::Sender<Event>>>>,
    polls: mpsc::UnboundedSender<Instant>,
    answers: mpsc::UnboundedSender<Answer>,
}

pub struct Stub {
    pub addr: String,
    waiting: Arc<Mutex<Option<oneshot::Sender<Event>>>>,
    polls: mpsc::UnboundedReceiver<Instant>,
    answers: mpsc::UnboundedReceiver<Answer>,
    server: tokio::task::JoinHandle<()>,
    next_id: u64,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(s): State<Shared>) -> impl IntoResponse {
    let (tx, rx) = oneshot::channel();
    *s.waiting.lock().unwrap() = Some(tx);
    let _ = s.polls.send(Instant::now());
    let Ok((id, body)) = rx.await else {
        return (StatusCode::GONE, HeaderMap::new(), Bytes::new());
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(15);
    let mut h = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        h.insert(k, HeaderValue::from_str(&v).expect("ASCII header"));
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", id);
    set(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:ap-south-1:123456789012:function:{}",
            s.function
        ),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    );
    (StatusCode::OK, h, body)
}

fn answer(s: &Shared, ok: bool, body: Bytes) -> StatusCode {
    let _ = s.answers.send(Answer {
        at: Instant::now(),
        ok,
        body,
    });
    StatusCode::ACCEPTED
}

async fn response(State(s): State<Shared>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    answer(&s, true, body)
}

async fn error(State(s): State<Shared>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    answer(&s, false, body)
}

async fn init_error(State(s): State<Shared>, body: Bytes) -> StatusCode {
    answer(&s, false, body)
}

impl Stub {
    pub async fn start(function: &str) -> anyhow::Result<Stub> {
        let (poll_tx, polls) = mpsc::unbounded_channel();
        let (answer_tx, answers) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(None));
        let shared = Shared {
            function: function.to_owned(),
            waiting: waiting.clone(),
            polls: poll_tx,
            answers: answer_tx,
        };
        let base = "/2018-06-01/runtime";
        let app = Router::new()
            .route(&format!("{base}/invocation/next"), get(next))
            .route(
                &format!("{base}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{base}/invocation/{{id}}/error"), post(error))
            .route(&format!("{base}/init/error"), post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Stub {
            addr,
            waiting,
            polls,
            answers,
            server,
            next_id: 0,
        })
    }

    /// When the function next asks for work (it may already have).
    pub async fn poll(&mut self, limit: Duration) -> anyhow::Result<Instant> {
        tokio::select! {
            p = self.polls.recv() => p.ok_or_else(|| anyhow::anyhow!("stub stopped")),
            a = self.answers.recv() => match a {
                Some(a) => anyhow::bail!("reported an error instead of polling: {}", String::from_utf8_lossy(&a.body)),
                None => anyhow::bail!("stub stopped"),
            },
            _ = tokio::time::sleep(limit) => anyhow::bail!("no poll within {limit:?}"),
        }
    }

    /// Hands `event` to the poll that is waiting and returns (handed out at, answer). Call
    /// only after `poll` returned.
    pub async fn invoke(
        &mut self,
        event: Bytes,
        limit: Duration,
    ) -> anyhow::Result<(Instant, Answer)> {
        self.next_id += 1;
        let id = format!("bench-{:08}", self.next_id);
        let tx = self
            .waiting
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| anyhow::anyhow!("nobody is polling"))?;
        let started = Instant::now();
        tx.send((id, event))
            .map_err(|_| anyhow::anyhow!("the poll went away"))?;
        match tokio::time::timeout(limit, self.answers.recv()).await {
            Ok(Some(a)) => Ok((started, a)),
            Ok(None) => anyhow::bail!("stub stopped"),
            Err(_) => anyhow::bail!("no answer within {limit:?}"),
        }
    }
}
