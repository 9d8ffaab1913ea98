//! The state file of `--state-file`: exactly the `snapshot` object the guest returns (PROTOCOL
//! §4), read once at start and replaced atomically at every checkpoint.
//!
//! Atomic replacement: the new contents go to a temporary file in the same directory, which is
//! fsynced, renamed over the old file, and the directory fsynced. A reader (or a restart after
//! a crash or `kill -9`) sees either the old file or the new one, never a mix. The temporary
//! file has a fixed name (`.NAME.tmp`), so one left by a crash is simply overwritten next time.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::messages::{self, NotObject};

/// Why a state file cannot be loaded. The host refuses to start and leaves the file as it is.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file exists but cannot be read.
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
}

/// The snapshot in `path`, checked to be one JSON object (the guest checks the rest); `None`
/// when there is no such file yet.
pub fn load(path: &Path) -> Result<Option<Vec<u8>>, LoadError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Read(e)),
    };
    std::str::from_utf8(&bytes).map_err(|e| LoadError::Utf8(e.valid_up_to()))?;
    match messages::object(&bytes) {
        Ok(_) => Ok(Some(bytes)),
        Err(NotObject::Kind(kind)) => Err(LoadError::NotObject(kind)),
        Err(NotObject::Json(e)) => Err(LoadError::Json(e)),
    }
}

/// Replaces `path` with `contents` atomically.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
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
