//! The HTTP side of `--listen`, on `tiny_http`: `GET /metrics` (OpenMetrics text), `GET /status`
//! (the body of the node's `status` reply for every service) and `GET /events` (Server-Sent
//! Events, resumable with `Last-Event-ID`), each with CORS for any origin.
//!
//! Each request runs on a thread of its own and only ever touches [`Shared`]: the serving loop
//! is never waited for by a client, and a client that stops reading blocks only its own thread.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

use super::Poke;
use super::host_metrics;
use super::shared::Shared;
use crate::error::StartError;

/// Event streams served at once; more are refused with 503.
const MAX_STREAMS: usize = 64;

/// How long `/metrics` and `/status` wait for the loop to refresh them (it may be busy with a
/// large batch); after that they give the latest copy there is.
const FRESH_WAIT: Duration = Duration::from_secs(2);

/// A comment line goes to an idle event stream this often, so a gone client is noticed.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The event stream's head: sent at once, so the client counts the stream as open.
const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: text/event-stream\r\n\
Cache-Control: no-cache\r\n\
Connection: close\r\n\
Access-Control-Allow-Origin: *\r\n\
X-Accel-Buffering: no\r\n\r\n\
retry: 1000\n\n";

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` and serves on a thread of its own.
pub fn spawn(addr: &str, shared: Arc<Shared>, poke: Poke) -> Result<(), StartError> {
    let server = Server::http(addr).map_err(|e| StartError::Listen {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    let poke = Arc::new(poke);
    let streams = Arc::new(AtomicUsize::new(0));
    thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let (shared, poke, streams) = (shared.clone(), poke.clone(), streams.clone());
                let spawned = thread::Builder::new()
                    .name("http request".into())
                    .spawn(move || handle(request, &shared, &poke, &streams));
                if let Err(e) = spawned {
                    diag!("--listen: cannot start a thread for a request ({e})");
                }
            }
        })
        .map_err(|e| StartError::Listen {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    Ok(())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn reply(request: Request, status: u16, content_type: &str, body: String) {
    let response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Access-Control-Allow-Origin", "*"))
        .with_header(header("Cache-Control", "no-cache"));
    // A client that went away needs no answer.
    let _ = request.respond(response);
}

fn handle(request: Request, shared: &Shared, poke: &Poke, streams: &AtomicUsize) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    match (request.method(), path.as_str()) {
        (Method::Options, _) => {
            let response = Response::empty(204)
                .with_header(header("Access-Control-Allow-Origin", "*"))
                .with_header(header("Access-Control-Allow-Methods", "GET, OPTIONS"))
                .with_header(header("Access-Control-Allow-Headers", "Last-Event-ID"));
            let _ = request.respond(response);
        }
        (Method::Get, "/metrics") => match shared.fresh(poke, FRESH_WAIT).1 {
            Some(text) => {
                let clients = streams.load(Ordering::Relaxed) as i64;
                let text = host_metrics::exposition(&text, shared, clients);
                reply(request, 200, OPENMETRICS, text);
            }
            None => unavailable(request),
        },
        (Method::Get, "/status") => match shared.fresh(poke, FRESH_WAIT).0 {
            Some(json) => reply(request, 200, "application/json", json),
            None => unavailable(request),
        },
        (Method::Get, "/events") => stream(request, shared, streams),
        (Method::Get, _) => {
            let text = "not found: this node serves /metrics, /status and /events\n";
            reply(request, 404, "text/plain", text.into());
        }
        _ => reply(request, 405, "text/plain", "only GET\n".into()),
    }
}

fn unavailable(request: Request) {
    let text = "the node has not answered yet; try again\n";
    reply(request, 503, "text/plain", text.into());
}

/// The event stream: the transitions after `Last-Event-ID` (or every one kept, without it),
/// then each one as it happens.
fn stream(request: Request, shared: &Shared, streams: &AtomicUsize) {
    if streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        streams.fetch_sub(1, Ordering::SeqCst);
        let text = format!("at most {MAX_STREAMS} event streams at once\n");
        reply(request, 503, "text/plain", text);
        return;
    }
    let after = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Last-Event-ID"))
        .and_then(|h| h.value.as_str().trim().parse().ok())
        .unwrap_or(0);
    let mut writer = request.into_writer();
    // The stream ends when the client goes away (a failed write).
    let _ = send_events(&mut *writer, shared, after);
    streams.fetch_sub(1, Ordering::SeqCst);
}

fn send_events(w: &mut dyn Write, shared: &Shared, mut after: u64) -> io::Result<()> {
    w.write_all(STREAM_HEAD)?;
    w.flush()?;
    let mut epoch = shared.epoch();
    loop {
        let (events, now) = shared.events_after(after, epoch, HEARTBEAT);
        if now != epoch {
            // The module's log started over: so does the stream.
            (after, epoch) = (0, now);
        }
        let mut out = String::new();
        for e in &events {
            out.push_str(&format!("id: {}\ndata: {}\n\n", e.seq, e.json));
        }
        if let Some(last) = events.last() {
            after = last.seq;
        } else {
            out.push_str(": keep-alive\n\n");
        }
        w.write_all(out.as_bytes())?;
        w.flush()?;
    }
}
