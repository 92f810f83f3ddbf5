//! Durable state on the device. Everything written here survives a power cut in either its old or
//! its new form, never half-written: write a temporary file, fsync it, rename it over the old one,
//! fsync the directory.

pub mod kv;
pub mod sandbox;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub use kv::{KvError, KvStore};

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Replace `path` with `data` atomically.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    // The temporary name keeps at most 64 bytes of the final name, so it stays within the file
    // system's 255-byte limit whatever the final name's length.
    let name = name.to_string_lossy();
    let mut keep = name.len().min(64);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        &name[..keep],
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Remove temporary files a crash may have left in `dir` (names written by [`atomic_write`]).
pub fn clean_temporaries(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with('.') && n.contains(".tmp-") {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_atomically() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn names_up_to_255_bytes() {
        let d = tempfile::tempdir().unwrap();
        for name in ["a".repeat(255), "文".repeat(85)] {
            let p = d.path().join(&name);
            atomic_write(&p, b"long").unwrap();
            assert_eq!(fs::read(&p).unwrap(), b"long");
        }
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn failed_write_leaves_old_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub");
        fs::create_dir(&p).unwrap();
        // Renaming a file over a non-empty directory fails.
        fs::write(p.join("x"), b"x").unwrap();
        assert!(atomic_write(&p, b"data").is_err());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
