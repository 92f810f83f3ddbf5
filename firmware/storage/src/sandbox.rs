//! The storage root and the client path namespace.
//!
//! Pages name files on "their" disk (`D:/tmp/a.jpg`, `D:\a.jpg`, `/tmp/x.jpg`, `a.jpg`). On the
//! appliance every such path resolves inside one storage root: the drive letter is dropped,
//! backslashes become slashes, `.` and empty components vanish, and `..` is refused, as is any
//! symlink that leads outside the root. So a path written by one call can be read by the next,
//! and no request reaches a file outside the root.
//!
//! Generated images (`make_uuid`) live in `images/<uuid>.jpg` and are subject to the retention
//! policy: when the root holds more than its quota, the oldest generated images go first. Merged
//! documents (`images/<uuid>.pdf`, `.tif`, `.ofd`) live there too, under the same policy.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::atomic_write;

/// Folder of generated images inside the root.
pub const GENERATED_DIR: &str = "images";

#[derive(Debug)]
pub enum StoreError {
    /// The path leaves the storage root (`..`, a symlink out, an absolute device path ...).
    Refused(String),
    /// The path is syntactically unusable (empty, a directory, bad characters).
    BadPath(String),
    NotFound(String),
    /// The target exists and overwriting was not allowed.
    Exists(String),
    /// Over the quota even after removing every generated image.
    Full {
        quota: u64,
    },
    Io(io::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Refused(p) => write!(f, "path refused (outside the storage area): {p}"),
            StoreError::BadPath(p) => write!(f, "unusable path: {p}"),
            StoreError::NotFound(p) => write!(f, "no such file: {p}"),
            StoreError::Exists(p) => write!(f, "file exists: {p}"),
            StoreError::Full { quota } => write!(f, "storage full (quota {quota} bytes)"),
            StoreError::Io(e) => write!(f, "storage I/O error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The one place storage errors become vendor codes.
impl From<StoreError> for apierror::ApiError {
    fn from(e: StoreError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            StoreError::Refused(p) => ApiError::with(ErrorKind::PathRefused, Text::same(p)),
            StoreError::BadPath(p) => ApiError::invalid(
                "filepath",
                Text::new(format!("路径不可用：{p}"), format!("unusable path: {p}")),
            ),
            StoreError::NotFound(p) => ApiError::with(
                ErrorKind::NotFound,
                Text::new(format!("文件不存在：{p}"), format!("no such file: {p}")),
            ),
            StoreError::Exists(p) => ApiError::invalid(
                "target_file",
                Text::new(
                    format!("目标文件已存在：{p}（cover_target_file 为 \"1\" 时才覆盖）"),
                    format!(
                        "the target exists: {p} (overwritten only with cover_target_file \"1\")"
                    ),
                ),
            ),
            StoreError::Full { quota } => ApiError::with(
                ErrorKind::Storage,
                Text::new(
                    format!("存储空间已满（配额 {quota} 字节）"),
                    format!("storage full (quota {quota} bytes)"),
                ),
            ),
            StoreError::Io(e) => ApiError::with(ErrorKind::Storage, Text::same(e.to_string())),
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The storage root with its quota.
pub struct Storage {
    root: PathBuf,
    quota: u64,
    /// Serialises quota enforcement.
    lock: Mutex<()>,
}

/// Normalise a client path into components relative to the root.
pub fn normalize(client: &str) -> Result<Vec<String>> {
    let mut s = client.trim().replace('\\', "/");
    // Drive letter ("D:" or "D:/").
    let b = s.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        s = s[2..].to_string();
    }
    // file:/// URLs some pages produce.
    if let Some(rest) = s.strip_prefix("file://") {
        s = rest.to_string();
    }
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(StoreError::Refused(client.to_string())),
            c if c.contains('\0') || c.len() > 255 => {
                return Err(StoreError::BadPath(client.to_string()))
            }
            c => parts.push(c.to_string()),
        }
    }
    if parts.is_empty() {
        return Err(StoreError::BadPath(client.to_string()));
    }
    Ok(parts)
}

/// Whether `s` is a uuid as the daemon makes them (8-4-4-4-12 hex).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Storage {
    /// Open (and create) the storage root.
    pub fn open(root: &Path, quota: u64) -> Result<Storage> {
        fs::create_dir_all(root.join(GENERATED_DIR))?;
        let root = fs::canonicalize(root)?;
        crate::clean_temporaries(&root.join(GENERATED_DIR));
        Ok(Storage {
            root,
            quota,
            lock: Mutex::new(()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a client path, checked to stay inside the root (existing parts are
    /// resolved through symlinks). The file itself need not exist.
    pub fn resolve(&self, client: &str) -> Result<PathBuf> {
        let parts = normalize(client)?;
        let mut p = self.root.clone();
        for c in &parts {
            p.push(c);
        }
        self.check_inside(&p, client)?;
        Ok(p)
    }

    /// Refuse `p` if it, or its deepest existing ancestor, resolves outside the root.
    fn check_inside(&self, p: &Path, client: &str) -> Result<()> {
        let mut probe = p.to_path_buf();
        loop {
            match fs::canonicalize(&probe) {
                Ok(real) => {
                    if real.starts_with(&self.root) {
                        return Ok(());
                    }
                    return Err(StoreError::Refused(client.to_string()));
                }
                Err(_) => {
                    // A dangling symlink is refused outright.
                    if fs::symlink_metadata(&probe).is_ok() {
                        return Err(StoreError::Refused(client.to_string()));
                    }
                    if !probe.pop() {
                        return Err(StoreError::Refused(client.to_string()));
                    }
                }
            }
        }
    }

    /// The client-visible path of an absolute path inside the root ("/images/<uuid>.jpg").
    pub fn client_path(&self, abs: &Path) -> String {
        let rel = abs.strip_prefix(&self.root).unwrap_or(abs);
        let mut s = String::from("/");
        s.push_str(&rel.to_string_lossy().replace('\\', "/"));
        s
    }

    /// Path of a generated image.
    pub fn generated(&self, uuid: &str) -> Result<PathBuf> {
        if !is_uuid(uuid) {
            return Err(StoreError::BadPath(uuid.to_string()));
        }
        Ok(self.root.join(GENERATED_DIR).join(format!("{uuid}.jpg")))
    }

    /// Read a file by client path.
    pub fn read(&self, client: &str) -> Result<Vec<u8>> {
        let p = self.resolve(client)?;
        self.read_abs(&p, client)
    }

    /// Size in bytes of a file by client path (to admit the memory a read takes before it).
    pub fn size(&self, client: &str) -> Result<u64> {
        let p = self.resolve(client)?;
        self.size_abs(&p, client)
    }

    /// Size in bytes of a generated image by uuid.
    pub fn size_uuid(&self, uuid: &str) -> Result<u64> {
        let p = self.generated(uuid)?;
        self.size_abs(&p, uuid)
    }

    fn size_abs(&self, p: &Path, name: &str) -> Result<u64> {
        match fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(m.len()),
            Ok(_) => Err(StoreError::BadPath(name.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Read a generated image by uuid.
    pub fn read_uuid(&self, uuid: &str) -> Result<Vec<u8>> {
        let p = self.generated(uuid)?;
        self.read_abs(&p, uuid)
    }

    fn read_abs(&self, p: &Path, name: &str) -> Result<Vec<u8>> {
        match fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(fs::read(p)?),
            Ok(_) => Err(StoreError::BadPath(name.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Write a file by client path atomically (parents created). `overwrite` false refuses an
    /// existing file. Returns the absolute path.
    pub fn write(&self, client: &str, data: &[u8], overwrite: bool) -> Result<PathBuf> {
        let p = self.resolve(client)?;
        self.write_abs(&p, client, data, overwrite)?;
        Ok(p)
    }

    /// Write a generated image; returns its absolute path.
    pub fn write_generated(&self, uuid: &str, data: &[u8]) -> Result<PathBuf> {
        let p = self.generated(uuid)?;
        self.write_abs(&p, uuid, data, true)?;
        Ok(p)
    }

    /// Write a generated file of another kind (`<uuid>.<ext>`, a merged document) beside the
    /// generated images, under the same retention policy; returns its absolute path.
    pub fn write_generated_as(&self, uuid: &str, ext: &str, data: &[u8]) -> Result<PathBuf> {
        if !is_uuid(uuid) || ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::BadPath(format!("{uuid}.{ext}")));
        }
        let p = self.root.join(GENERATED_DIR).join(format!("{uuid}.{ext}"));
        self.write_abs(&p, uuid, data, true)?;
        Ok(p)
    }

    fn write_abs(&self, p: &Path, name: &str, data: &[u8], overwrite: bool) -> Result<()> {
        if p.is_dir() {
            return Err(StoreError::BadPath(name.to_string()));
        }
        if !overwrite && fs::symlink_metadata(p).is_ok() {
            return Err(StoreError::Exists(name.to_string()));
        }
        let parent = p.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent)?;
        // The directories just created could not have been raced into symlinks by a client
        // (clients cannot make symlinks), but check again after creating them.
        self.check_inside(parent, name)?;
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.make_room(data.len() as u64)?;
        atomic_write(p, data)?;
        Ok(())
    }

    /// Copy `from` to `to` (client paths) atomically; `overwrite` false refuses an existing
    /// target; `delete_source` removes the source after a successful copy.
    pub fn copy(&self, from: &str, to: &str, overwrite: bool, delete_source: bool) -> Result<()> {
        let src = self.resolve(from)?;
        let dst = self.resolve(to)?;
        let data = self.read_abs(&src, from)?;
        if src == dst {
            return if overwrite {
                Ok(())
            } else {
                Err(StoreError::Exists(to.to_string()))
            };
        }
        self.write_abs(&dst, to, &data, overwrite)?;
        if delete_source {
            fs::remove_file(&src)?;
        }
        Ok(())
    }

    /// Bytes used under the root.
    pub fn used(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            let mut n = 0;
            for e in fs::read_dir(p).into_iter().flatten().flatten() {
                match e.file_type() {
                    Ok(t) if t.is_dir() => n += walk(&e.path()),
                    Ok(t) if t.is_file() => n += e.metadata().map(|m| m.len()).unwrap_or(0),
                    _ => {}
                }
            }
            n
        }
        walk(&self.root)
    }

    /// Remove the oldest generated images until `incoming` more bytes fit the quota.
    fn make_room(&self, incoming: u64) -> Result<()> {
        if self.quota == 0 {
            return Ok(());
        }
        let mut used = self.used();
        if used + incoming <= self.quota {
            return Ok(());
        }
        let mut gen: Vec<(std::time::SystemTime, PathBuf, u64)> =
            fs::read_dir(self.root.join(GENERATED_DIR))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    if !m.is_file() {
                        return None;
                    }
                    Some((m.modified().ok()?, e.path(), m.len()))
                })
                .collect();
        gen.sort();
        for (_, p, len) in gen {
            if used + incoming <= self.quota {
                break;
            }
            if fs::remove_file(&p).is_ok() {
                tracing::info!(path = %p.display(), "retention: removed the oldest generated image");
                used = used.saturating_sub(len);
            }
        }
        if used + incoming > self.quota {
            return Err(StoreError::Full { quota: self.quota });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Storage) {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(&d.path().join("root"), 0).unwrap();
        (d, s)
    }

    #[test]
    fn client_paths_normalised() {
        assert_eq!(normalize("D:/tmp/a.jpg").unwrap(), vec!["tmp", "a.jpg"]);
        assert_eq!(normalize("D:\\a.jpg").unwrap(), vec!["a.jpg"]);
        assert_eq!(normalize("/tmp/x.jpg").unwrap(), vec!["tmp", "x.jpg"]);
        assert_eq!(normalize("rel/./b.jpg").unwrap(), vec!["rel", "b.jpg"]);
        assert!(matches!(
            normalize("D:/../etc/passwd"),
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            normalize("a/../../b"),
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(normalize(""), Err(StoreError::BadPath(_))));
        assert!(matches!(normalize("D:/"), Err(StoreError::BadPath(_))));
    }

    #[test]
    fn same_file_through_different_spellings() {
        let (_d, s) = store();
        s.write("D:/tmp/T.jpg", b"x", false).unwrap();
        assert_eq!(s.read("/tmp/T.jpg").unwrap(), b"x");
        assert_eq!(s.read("D:\\tmp\\T.jpg").unwrap(), b"x");
        assert!(matches!(
            s.write("tmp/T.jpg", b"y", false),
            Err(StoreError::Exists(_))
        ));
        s.write("tmp/T.jpg", b"y", true).unwrap();
        assert_eq!(s.read("tmp/T.jpg").unwrap(), b"y");
    }

    #[test]
    fn symlink_escape_refused() {
        let (d, s) = store();
        let outside = d.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(&outside, s.root().join("link")).unwrap();
        assert!(matches!(s.read("link/secret"), Err(StoreError::Refused(_))));
        assert!(matches!(
            s.write("link/new", b"x", true),
            Err(StoreError::Refused(_))
        ));
        assert!(!outside.join("new").exists());
        std::os::unix::fs::symlink("/nonexistent", s.root().join("dangling")).unwrap();
        assert!(matches!(
            s.write("dangling", b"x", true),
            Err(StoreError::Refused(_))
        ));
    }

    #[test]
    fn copy_rules() {
        let (_d, s) = store();
        s.write("a.jpg", b"a", false).unwrap();
        s.write("b.jpg", b"b", false).unwrap();
        assert!(matches!(
            s.copy("a.jpg", "b.jpg", false, false),
            Err(StoreError::Exists(_))
        ));
        assert_eq!(s.read("b.jpg").unwrap(), b"b");
        s.copy("a.jpg", "b.jpg", true, true).unwrap();
        assert_eq!(s.read("b.jpg").unwrap(), b"a");
        assert!(matches!(s.read("a.jpg"), Err(StoreError::NotFound(_))));
        assert!(matches!(
            s.copy("nope.jpg", "c.jpg", true, false),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn retention_removes_oldest_generated() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path(), 250).unwrap();
        let ids = [
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000002",
            "00000000-0000-0000-0000-000000000003",
        ];
        for id in ids {
            s.write_generated(id, &[0u8; 100]).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(s.read_uuid(ids[0]).is_err(), "oldest went first");
        assert!(s.read_uuid(ids[2]).is_ok());
        assert!(matches!(
            s.write("big.bin", &[0u8; 300], true),
            Err(StoreError::Full { .. })
        ));
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("115cc17b-1b80-4f8b-a591-9cdecb8cd39c"));
        assert!(!is_uuid("../../etc/passwd"));
    }
}
