//! Reading the files named on the command line (`--config`, `--module`, `--state-file`): only
//! regular files, opened without blocking, and never more than a set size.
//!
//! A FIFO with no writer would block `open` forever and a device such as `/dev/zero` never
//! ends, so the file is opened with `O_NONBLOCK` (which changes nothing for a regular file),
//! checked with `fstat` on the open descriptor (no window between the check and the read), and
//! read through `Read::take` one byte past the limit.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest `--config` file: a config object is a few hundred bytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The largest `--module` file: the module is about 260 KB.
pub const MAX_MODULE_BYTES: u64 = 64 << 20;

/// The contents of the regular file at `path`, at most `limit` bytes; `Ok(None)` when there is
/// no such file. Anything else (a directory, a FIFO, a device, a socket, a larger file) is an
/// error whose text says what was found.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut file = match open_regular(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.by_ref().take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!(
            "larger than {limit} bytes, the most it may hold"
        )));
    }
    Ok(Some(bytes))
}

/// Like [`read_regular`], for a file that must exist.
pub fn read_existing(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_regular(path, limit)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// Opens `path` for reading without blocking and checks that it is a regular file.
fn open_regular(path: &Path) -> io::Result<File> {
    let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblocking)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something else"
    };
    Err(io::Error::other(format!("not a regular file ({what})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file_and_bounds_the_rest() {
        let dir = std::env::temp_dir().join(format!("breaker-files-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, b"12345").unwrap();
        assert_eq!(read_regular(&small, 5).unwrap().unwrap(), b"12345");
        let big = read_regular(&small, 4).unwrap_err().to_string();
        assert_eq!(big, "larger than 4 bytes, the most it may hold");
        assert!(read_regular(&dir.join("missing"), 4).unwrap().is_none());
        let zero = read_regular(Path::new("/dev/zero"), 4).unwrap_err();
        assert_eq!(zero.to_string(), "not a regular file (a character device)");
        let here = read_regular(&dir, 4).unwrap_err();
        assert_eq!(here.to_string(), "not a regular file (a directory)");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
