//! Where the serving loop's inputs come from: a thread reading stdin and a thread watching the
//! signals that end the node, both feeding one channel.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread;

/// One input of the serving loop.
pub enum Input {
    Data(Vec<u8>),
    /// One complete document from the fleet (`--fleet`), handled on its own.
    Peer(Vec<u8>),
    /// End of input (or an unreadable stdin).
    End,
    /// SIGTERM, SIGINT, SIGHUP or SIGQUIT.
    Stop,
}

/// The signals that end the node: each one flushes the replies and saves the state. SIGHUP
/// (the terminal went away) and SIGQUIT end it like SIGTERM rather than kill it unsaved.
const STOP_SIGNALS: [i32; 4] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
];

/// The most one read of stdin takes.
const READ_BYTES: usize = 1 << 20;

/// The most read buffers in use at once: the stdin thread reads this far ahead of the node.
const READ_AHEAD: usize = 4;

/// Set as soon as a stop signal arrives, for the loops that run long between two inputs (a batch
/// handled again one document at a time).
pub static STOPPING: AtomicBool = AtomicBool::new(false);

/// The inputs, a sender for the HTTP side's wake-ups (empty `Data`), and one for read buffers
/// done with, to be read into again.
pub fn spawn_inputs() -> (Receiver<Input>, SyncSender<Input>, Sender<Vec<u8>>) {
    let (tx, rx) = sync_channel(64);
    // Spent read buffers come back to be read into again: a fresh megabyte for every read
    // faulted its pages in one by one as the kernel copied into it (16,000 page faults for a
    // 95 MB input).
    let (spent, spares) = channel::<Vec<u8>>();
    let signals_tx = tx.clone();
    let poke = tx.clone();
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut made = 0;
        loop {
            // As much as a read gives: a pipe holds 64 KiB, a file gives the whole buffer.
            // At most READ_AHEAD buffers: once they are all made, wait for one to come back.
            let mut buf = match spares.try_recv() {
                Ok(buf) => buf,
                Err(_) if made < READ_AHEAD => {
                    made += 1;
                    Vec::new()
                }
                Err(_) => match spares.recv() {
                    Ok(buf) => buf,
                    Err(_) => return,
                },
            };
            buf.clear();
            buf.resize(READ_BYTES, 0);
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Input::Data(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    diag!("reading stdin: {e}");
                    break;
                }
            }
        }
        let _ = tx.send(Input::End);
    });
    match signal_hook::iterator::Signals::new(STOP_SIGNALS) {
        Ok(mut signals) => {
            thread::spawn(move || {
                if signals.forever().next().is_some() {
                    STOPPING.store(true, Ordering::SeqCst);
                    let _ = signals_tx.send(Input::Stop);
                }
            });
        }
        Err(e) => diag!("cannot watch SIGTERM/SIGINT/SIGHUP/SIGQUIT: {e}"),
    }
    (rx, poke, spent)
}
