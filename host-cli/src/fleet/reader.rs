//! The thread that follows the fleet's stream: every other node's entry becomes a
//! `peer_transition` document for this node's guest, sent through the serving loop's inputs.
//! It reads from the last entry it saw, so after Redis comes back it catches up on what it
//! missed (as far as the stream's `MAXLEN` kept it), in order.

use std::sync::mpsc::SyncSender;
use std::thread;

use redis::streams::StreamReadReply;

use super::entry;
use super::link::Link;
use crate::inputs::Input;

/// How long one XREAD waits for a new entry, in ms: the longest a lost connection goes
/// unnoticed when nothing is written.
const BLOCK_MS: u64 = 1000;

/// The most entries read at once.
const COUNT: u64 = 1000;

/// Follows `stream` from its start (what the stream still holds) for `me`.
pub fn spawn(mut link: Link, stream: String, me: String, inputs: SyncSender<Input>) {
    thread::spawn(move || {
        let mut last = "0".to_string();
        loop {
            let Some(conn) = link.get() else {
                thread::sleep(link.wait());
                continue;
            };
            let read = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(COUNT)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&stream)
                .arg(&last)
                .query::<Option<StreamReadReply>>(conn)
                .and_then(|r| Ok((r, redis::cmd("TIME").query::<(u64, u64)>(conn)?)));
            let (reply, (secs, micros)) = match read {
                Ok((Some(reply), time)) => (reply, time),
                Ok((None, _)) => continue,
                Err(e) => {
                    link.failed(&e);
                    continue;
                }
            };
            let now_ms = secs * 1000 + micros / 1000;
            for e in reply.keys.into_iter().flat_map(|k| k.ids) {
                if let Some(doc) = entry::peer_document(&me, &e, now_ms)
                    && inputs.send(Input::Peer(doc)).is_err()
                {
                    return;
                }
                last = e.id;
            }
        }
    });
}
