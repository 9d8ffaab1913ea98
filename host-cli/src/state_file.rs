//! The state file of `--state-file`: exactly the `snapshot` object the guest returns (PROTOCOL
//! §4), read once at start and replaced atomically at every checkpoint.
//!
//! Atomic replacement: the new contents go to a temporary file in the same directory, which is
//! fsynced, renamed over the old file, and the directory fsynced. A reader (or a restart after
//! a crash or `kill -9`) sees either the old file or the new one, never a mix. The temporary
//! file has a fixed name (`.NAME.tmp`), so one left by a crash is simply overwritten next time.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::StartError;
use crate::files;
use crate::messages::{self, NotObject};

/// Why the state file cannot be used. The host refuses to start and leaves the file as it is.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file exists but cannot be read (or is not a regular file, or is too large).
    #[error("cannot read it: {0}")]
    Read(io::Error),
    /// The bytes are not UTF-8.
    #[error("not UTF-8 (byte {0})")]
    Utf8(usize),
    /// The text is not one JSON document.
    #[error("not JSON: {0}")]
    Json(String),
    /// A JSON document, but not an object.
    #[error("expected a snapshot object, found {0}")]
    NotObject(&'static str),
    /// A symbolic link to nothing (or a loop of links).
    #[error("a symbolic link that leads to no file ({0})")]
    Dangling(io::Error),
    /// The directory that would hold it does not exist, or is not a directory.
    #[error("its directory {0} does not exist")]
    NoDirectory(PathBuf),
    /// The directory exists, but a file cannot be created in it.
    #[error("its directory {0} is not writable ({1})")]
    NotWritable(PathBuf, io::Error),
    /// Another process holds the lock beside it.
    #[error("another breaker-host is using it (it holds the lock {0})")]
    Locked(PathBuf),
}

/// The state file of this node: its path, with a symbolic link resolved once at start (so
/// checkpoints replace the link's target, not the link), and the lock that keeps a second node
/// off it for as long as this one runs.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    _lock: File,
}

impl StateFile {
    /// Resolves `path`, checks its directory, takes its lock (`.NAME.lock` beside it) and reads
    /// the snapshot in it, if any (at most `limit` bytes, checked to be one JSON object; the guest
    /// checks the rest).
    pub fn open(path: &Path, limit: u64) -> Result<(StateFile, Option<Vec<u8>>), LoadError> {
        let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let path = if is_link {
            fs::canonicalize(path).map_err(LoadError::Dangling)?
        } else {
            path.to_path_buf()
        };
        let (dir, name) = split(&path).map_err(LoadError::Read)?;
        if !fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Err(LoadError::NoDirectory(dir));
        }
        let lock = lock_beside(&dir, &name)?;
        let saved = match files::read_regular(&path, limit).map_err(LoadError::Read)? {
            Some(bytes) => Some(check(bytes)?),
            None => None,
        };
        let file = StateFile { path, _lock: lock };
        Ok((file, saved))
    }

    /// The file's path, a symbolic link resolved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with `contents` atomically.
    pub fn write(&self, contents: &[u8]) -> io::Result<()> {
        write(&self.path, contents)
    }
}

/// The `--state-file`, locked, and the snapshot in it (at most `limit` bytes), if any.
type Opened = (Option<StateFile>, Option<Vec<u8>>);

pub fn open_state_file(path: &Path, limit: u64) -> Result<Opened, StartError> {
    let e = match StateFile::open(path, limit) {
        Ok((file, saved)) => return Ok((Some(file), saved)),
        Err(e) => e,
    };
    let (path, reason) = (path.display().to_string(), e.to_string());
    Err(match e {
        // The file is there but holds no snapshot: it "cannot be restored".
        LoadError::Utf8(_) | LoadError::Json(_) | LoadError::NotObject(_) => {
            StartError::State { path, reason }
        }
        _ => StartError::StateFile { path, reason },
    })
}

/// Takes the advisory lock `.NAME.lock` in `dir`, creating it if needed. A lock on the state
/// file itself would not do: every checkpoint renames a new file (a new inode) over it. The lock
/// file is never removed, so two nodes can never lock two different files of the same name.
fn lock_beside(dir: &Path, name: &std::ffi::OsStr) -> Result<File, LoadError> {
    let mut lock_name = std::ffi::OsString::from(".");
    lock_name.push(name);
    lock_name.push(".lock");
    let lock_path = dir.join(lock_name);
    let unwritable = |e| LoadError::NotWritable(dir.to_path_buf(), e);
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).map_err(|e| unwritable(e.into()))?;
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(unwritable)?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(fs::TryLockError::WouldBlock) => Err(LoadError::Locked(lock_path)),
        Err(fs::TryLockError::Error(e)) => Err(LoadError::Read(e)),
    }
}

/// The directory of `path` (`.` for a bare name) and its file name.
fn split(path: &Path) -> io::Result<(PathBuf, std::ffi::OsString)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    Ok((dir, name.to_os_string()))
}

/// `bytes`, checked to be one JSON object.
fn check(bytes: Vec<u8>) -> Result<Vec<u8>, LoadError> {
    std::str::from_utf8(&bytes).map_err(|e| LoadError::Utf8(e.valid_up_to()))?;
    match messages::object(&bytes) {
        Ok(_) => Ok(bytes),
        Err(NotObject::Kind(kind)) => Err(LoadError::NotObject(kind)),
        Err(NotObject::Json(e)) => Err(LoadError::Json(e)),
    }
}

/// Replaces `path` with `contents` atomically.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let (dir, name) = split(path)?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(contents)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("breaker-state-unit-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn load(path: &Path) -> Result<Option<Vec<u8>>, LoadError> {
        StateFile::open(path, 1 << 20).map(|(_, saved)| saved)
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_lock() {
        let dir = scratch("lock");
        let path = dir.join("state.json");
        let (first, _) = StateFile::open(&path, 1 << 20).unwrap();
        let second = StateFile::open(&path, 1 << 20).unwrap_err().to_string();
        let lock = dir.join(".state.json.lock");
        assert_eq!(
            second,
            format!(
                "another breaker-host is using it (it holds the lock {})",
                lock.display()
            )
        );
        drop(first);
        assert!(StateFile::open(&path, 1 << 20).is_ok(), "free again");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_is_resolved_once_and_a_dangling_one_refused() {
        let dir = scratch("link");
        let target = dir.join("target.json");
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = StateFile::open(&link, 1 << 20).unwrap_err().to_string();
        assert!(
            dangling.starts_with("a symbolic link that leads to no file"),
            "{dangling}"
        );
        fs::write(&target, b"{}").unwrap();
        let (file, saved) = StateFile::open(&link, 1 << 20).unwrap();
        assert_eq!(saved.unwrap(), b"{}");
        file.write(b"{\"a\":1}").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"{\"a\":1}\n");
        let missing = StateFile::open(&dir.join("no/state.json"), 1 << 20).unwrap_err();
        assert!(
            missing.to_string().ends_with("/no does not exist"),
            "{missing}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_checks_the_shape_and_names_the_fault() {
        let dir = scratch("load");
        let path = dir.join("state.json");
        assert!(load(&path).unwrap().is_none(), "no file yet");
        for (contents, expect) in [
            (&b"{\"version\":1}"[..], None),
            (b"", Some("not JSON")),
            (b"{\"version\":1", Some("not JSON")),
            (b"[1]", Some("expected a snapshot object, found")),
            (b"\xff{}", Some("not UTF-8 (byte 0)")),
            (b"{} {}", Some("not JSON")),
        ] {
            fs::write(&path, contents).unwrap();
            match (load(&path), expect) {
                (Ok(Some(bytes)), None) => assert_eq!(bytes, contents),
                (Err(e), Some(expect)) => assert!(e.to_string().contains(expect), "{e}"),
                (other, _) => panic!("{:?}: {other:?}", String::from_utf8_lossy(contents)),
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("write");
        let path = dir.join("state.json");
        write(&path, b"{\"a\":1}").unwrap();
        write(&path, b"{\"a\":2}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{\"a\":2}\n");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        assert!(write(&dir.join("missing/state.json"), b"{}").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
