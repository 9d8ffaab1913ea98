//! The thread that writes to the fleet: this node's shared transitions go to the stream
//! (`XADD ... MAXLEN ~ N`), and while one of its breakers is half_open it asks for that
//! service's probe lease (`SET ... NX PX`, in one script with a renewal of its own lease), and
//! tells the guest the answer as a `fleet_lease` document. The serving loop only hands it the
//! transitions; it never waits for Redis.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use redis::{Connection, RedisResult, Script};

use super::entry::{self, Outgoing};
use super::link::Link;
use crate::inputs::Input;

/// The most transitions kept for publishing while Redis is away; older ones are dropped
/// (a newer transition of the same service supersedes them anyway).
const MAX_QUEUED: usize = 10_000;

/// Takes the lease (value: the instance), or renews it when this instance holds it: 1 when
/// held, else minus the milliseconds it has left.
const TAKE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return -math.max(redis.call('PTTL', KEYS[1]), 1)";

/// Gives the lease back when this instance holds it.
const GIVE_BACK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Where the fleet keeps things, and who this node is.
pub struct Names {
    pub me: String,
    pub stream: String,
    /// The lease key of a service is this prefix and the service's name.
    pub lease_prefix: String,
    pub maxlen: u64,
}

/// A half_open breaker of this node, and when to ask for its lease.
struct Want {
    lease_ms: u64,
    next_ask: Instant,
    held: bool,
}

struct Writer {
    link: Link,
    names: Names,
    inputs: SyncSender<Input>,
    queue: VecDeque<(Outgoing, Instant)>,
    wants: HashMap<String, Want>,
    take: Script,
    give_back: Script,
}

/// Starts the writer; the receiver hears once it has ended (after its last attempt to publish,
/// once the serving loop has dropped its sender).
pub fn spawn(
    link: Link,
    names: Names,
    rx: Receiver<Vec<Outgoing>>,
    inputs: SyncSender<Input>,
) -> Receiver<()> {
    let mut w = Writer {
        link,
        names,
        inputs,
        queue: VecDeque::new(),
        wants: HashMap::new(),
        take: Script::new(TAKE),
        give_back: Script::new(GIVE_BACK),
    };
    let (ended, done) = sync_channel(1);
    thread::spawn(move || {
        loop {
            let wait = w.next_wake().saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(batch) => w.take_in(batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // The node is ending: what it has not published yet goes out now, if it can.
                    w.publish();
                    let _ = ended.send(());
                    return;
                }
            }
            while let Ok(batch) = rx.try_recv() {
                w.take_in(batch);
            }
            w.publish();
            if w.ask_due().is_err() {
                return;
            }
        }
    });
    done
}

impl Writer {
    fn next_wake(&self) -> Instant {
        let retry = match self.queue.is_empty() {
            true => Instant::now() + Duration::from_secs(1),
            false => Instant::now() + self.link.wait().max(Duration::from_millis(10)),
        };
        self.wants
            .values()
            .map(|w| w.next_ask)
            .fold(retry, Instant::min)
    }

    /// Queues what is shared, and follows which breakers are half_open.
    fn take_in(&mut self, batch: Vec<Outgoing>) {
        for t in batch {
            if t.from == "half_open"
                && let Some(want) = self.wants.remove(&t.service)
                && want.held
            {
                self.give_back(&t.service);
            }
            if t.to == "half_open" {
                let want = Want {
                    lease_ms: t.lease_ms,
                    next_ask: Instant::now(),
                    held: false,
                };
                self.wants.insert(t.service.clone(), want);
            }
            if t.share {
                if self.queue.len() == MAX_QUEUED {
                    self.queue.pop_front();
                }
                self.queue.push_back((t, Instant::now()));
            }
        }
    }

    fn publish(&mut self) {
        while let Some((t, queued)) = self.queue.front() {
            let Some(conn) = self.link.get() else {
                return;
            };
            let elapsed = queued.elapsed().as_millis() as u64;
            let n = &self.names;
            let added: RedisResult<String> = redis::cmd("XADD")
                .arg(&n.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(n.maxlen)
                .arg("*")
                .arg(entry::fields(&n.me, t, elapsed))
                .query(conn);
            match added {
                Ok(_) => drop(self.queue.pop_front()),
                Err(e) => return self.link.failed(&e),
            }
        }
    }

    fn give_back(&mut self, service: &str) {
        let key = format!("{}{service}", self.names.lease_prefix);
        let me = self.names.me.clone();
        if let Some(conn) = self.link.get() {
            let given: RedisResult<i64> = self.give_back.key(key).arg(me).invoke(conn);
            if let Err(e) = given {
                self.link.failed(&e);
            }
        }
    }

    /// Asks for the leases that are due; `Err` once the serving loop is gone.
    fn ask_due(&mut self) -> Result<(), ()> {
        let now = Instant::now();
        let due: Vec<String> = (self.wants.iter())
            .filter(|(_, w)| w.next_ask <= now)
            .map(|(s, _)| s.clone())
            .collect();
        for service in due {
            let lease_ms = self.wants[&service].lease_ms;
            let key = format!("{}{service}", self.names.lease_prefix);
            let asked = match self.link.get() {
                Some(conn) => ask(&self.take, conn, &key, &self.names.me, lease_ms),
                None => Err(None),
            };
            let (granted, again) = match asked {
                Ok(1) => (true, lease_ms),
                Ok(left) => (false, left.unsigned_abs().min(lease_ms)),
                // No fleet to share the probes with: this node decides alone.
                Err(e) => {
                    if let Some(e) = e {
                        self.link.failed(&e);
                    }
                    (true, lease_ms)
                }
            };
            let want = self.wants.get_mut(&service).expect("due");
            want.next_ask = Instant::now() + Duration::from_millis(again.max(5));
            if granted || want.held {
                want.held = granted;
                let doc = entry::lease_document(&self.names.me, &service, granted);
                self.inputs.send(Input::Peer(doc)).map_err(drop)?;
            }
        }
        Ok(())
    }
}

fn ask(
    take: &Script,
    conn: &mut Connection,
    key: &str,
    me: &str,
    lease_ms: u64,
) -> Result<i64, Option<redis::RedisError>> {
    take.key(key)
        .arg(me)
        .arg(lease_ms)
        .invoke(conn)
        .map_err(Some)
}
