//! One connection to the fleet's Redis, made again with backoff after a failure. The node never
//! waits for it: a thread that finds Redis away carries on (the node decides locally) and tries
//! again later. That Redis went away, and that it came back, is said once on stderr for all the
//! connections of the node.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisError};

/// The first wait before connecting again, doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long a connection attempt, and any one reply, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether Redis is away, shared by the node's connections so each change is said once.
#[derive(Default)]
pub struct Health {
    away: AtomicBool,
}

impl Health {
    fn lost(&self, url: &str, e: &RedisError) {
        if !self.away.swap(true, Ordering::SeqCst) {
            diag!("fleet: Redis at {url} is unreachable ({e}); deciding locally and trying again");
        }
    }

    fn back(&self, url: &str) {
        if self.away.swap(false, Ordering::SeqCst) {
            diag!("fleet: Redis at {url} is back; catching up with the fleet");
        }
    }
}

pub struct Link {
    client: Client,
    url: String,
    health: Arc<Health>,
    conn: Option<Connection>,
    backoff: Duration,
    next_try: Instant,
}

impl Link {
    pub fn new(client: Client, url: &str, health: Arc<Health>) -> Link {
        Link {
            client,
            url: url.to_string(),
            health,
            conn: None,
            backoff: MIN_BACKOFF,
            next_try: Instant::now(),
        }
    }

    /// The connection, made now if it is due; `None` while Redis is away.
    pub fn get(&mut self) -> Option<&mut Connection> {
        if self.conn.is_none() && Instant::now() >= self.next_try {
            let made = self
                .client
                .get_connection_with_timeout(CONNECT_TIMEOUT)
                .and_then(|c| {
                    c.set_read_timeout(Some(REPLY_TIMEOUT))?;
                    c.set_write_timeout(Some(REPLY_TIMEOUT))?;
                    Ok(c)
                });
            match made {
                Ok(c) => {
                    self.health.back(&self.url);
                    self.backoff = MIN_BACKOFF;
                    self.conn = Some(c);
                }
                Err(e) => self.failed(&e),
            }
        }
        self.conn.as_mut()
    }

    /// A command failed: the connection is dropped and made again after the backoff.
    pub fn failed(&mut self, e: &RedisError) {
        self.health.lost(&self.url, e);
        self.conn = None;
        self.next_try = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// How long until the next attempt to connect (zero while connected).
    pub fn wait(&self) -> Duration {
        match self.conn {
            Some(_) => Duration::ZERO,
            None => self.next_try.saturating_duration_since(Instant::now()),
        }
    }
}
