//! What the process-level tests share: starting `breaker-host`, feeding it, reading it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The host under test: this build's, or the binary named by `BREAKER_HOST_BIN` (to run the
/// same tests against another build, e.g. an older one).
pub fn host(args: &[&str]) -> Command {
    let bin = std::env::var_os("BREAKER_HOST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_breaker-host").into());
    let mut cmd = Command::new(bin);
    cmd.args(args);
    cmd
}

/// Runs the host on `input` (then end of input) and collects everything.
pub fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = host(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    // A host that refused to start closes stdin early: a broken pipe is expected then.
    let _ = writer.join().unwrap();
    out
}

pub fn lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// stderr without the lines of transitions, which every node writes (`tests/watch.rs` checks
/// them).
pub fn stderr(out: &Output) -> String {
    without_transitions(&out.stderr)
}

/// `stderr` without the lines of transitions.
pub fn without_transitions(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .split_inclusive('\n')
        .filter(|line| !line.contains(" → "))
        .collect()
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("breaker-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A message from client `c` to `db` with this body.
pub fn msg(body: &str) -> String {
    format!(r#"{{"src":"c","dest":"db","body":{body}}}"#)
}

/// The reply from `db` to `c` with this body.
pub fn reply(body: &str) -> String {
    format!(r#"{{"src":"db","dest":"c","body":{body}}}"#)
}

/// A host kept running, talked to one exchange at a time.
pub struct Live {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Live {
    pub fn start(args: &[&str]) -> Live {
        let mut cmd = host(args);
        cmd.stderr(Stdio::piped());
        Live::spawn(cmd)
    }

    /// Like [`Live::start`], for a command already set up (stderr included).
    pub fn spawn(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Live {
            child,
            stdin,
            stdout,
        }
    }

    /// Writes `docs` in one write (so they form one batch) and reads `replies` lines.
    pub fn send(&mut self, docs: &[String], replies: usize) -> Vec<String> {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all((docs.join("\n") + "\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        (0..replies)
            .map(|_| {
                let mut line = String::new();
                self.stdout.read_line(&mut line).unwrap();
                line.trim_end().to_string()
            })
            .collect()
    }

    /// stdin, to write on from another thread; [`Live::finish`] then closes nothing.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().unwrap()
    }

    /// Writes `input` (ignoring a closed stdin: the host may stop first) and waits for the exit,
    /// returning stderr.
    pub fn send_until_exit(mut self, input: &str) -> (std::process::ExitStatus, String) {
        let mut stdin = self.stdin.take().unwrap();
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        self.finish()
    }

    /// Reads one line of stdout into `line` (0 at its end).
    pub fn read_line(&mut self, line: &mut String) -> usize {
        self.stdout.read_line(line).unwrap()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Closes stdin and waits for the exit, returning stderr.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        (out.status, without_transitions(&out.stderr))
    }

    /// Waits (polling, at most 10 s) for the exit after a signal.
    pub fn wait_exit(mut self) -> (std::process::ExitStatus, String) {
        let started = Instant::now();
        loop {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "still running");
            std::thread::sleep(Duration::from_millis(5));
        }
        self.finish()
    }
}

/// The module built with the `test-trap` feature: `{"type":"test_trap"}` makes it trap.
pub fn trap_module() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = workspace();
            let target = root.join("target/guest-trap");
            let status = Command::new(env!("CARGO"))
                .current_dir(&root)
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "breaker-wasm",
                    "--features",
                    "test-trap",
                    "--target",
                    "wasm32-unknown-unknown",
                ])
                .args(["--profile", "wasm", "--target-dir"])
                .arg(&target)
                .status()
                .unwrap();
            assert!(status.success());
            target.join("wasm32-unknown-unknown/wasm/breaker_wasm.wasm")
        })
        .clone()
}
