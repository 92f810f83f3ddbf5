//! The persisted key/value store behind `param=set type=set_cache_data` (vendor section 5.16):
//! pages use it to hand data to each other. Bounded in entries and bytes; every change is written
//! atomically before it is acknowledged.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug)]
pub enum KvError {
    /// The store would exceed its entry or byte limit; nothing was changed.
    Full {
        max_entries: usize,
        max_bytes: usize,
    },
    /// Writing the store failed; nothing was changed.
    Io(std::io::Error),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::Full {
                max_entries,
                max_bytes,
            } => write!(
                f,
                "cache data is full (at most {max_entries} keys and {max_bytes} bytes)"
            ),
            KvError::Io(e) => write!(f, "writing cache data failed: {e}"),
        }
    }
}

impl std::error::Error for KvError {}

/// The one place cache data errors become vendor codes.
impl From<KvError> for apierror::ApiError {
    fn from(e: KvError) -> apierror::ApiError {
        use apierror::{ApiError, ErrorKind, Text};
        match e {
            KvError::Full {
                max_entries,
                max_bytes,
            } => ApiError::with(
                ErrorKind::Storage,
                Text::new(
                    format!("缓存数据已满（最多 {max_entries} 项、{max_bytes} 字节），未保存"),
                    format!(
                        "cache data is full (at most {max_entries} keys, {max_bytes} bytes); not stored"
                    ),
                ),
            ),
            KvError::Io(e) => ApiError::with(ErrorKind::Storage, Text::same(e.to_string())),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct Entry {
    key: String,
    value: String,
}

/// Insertion-ordered string map persisted as a JSON array.
pub struct KvStore {
    path: PathBuf,
    max_entries: usize,
    max_bytes: usize,
    entries: Mutex<Vec<Entry>>,
}

fn size_of(entries: &[Entry]) -> usize {
    entries.iter().map(|e| e.key.len() + e.value.len()).sum()
}

impl KvStore {
    /// Open the store at `path` (created on first write). A corrupt file is set aside as
    /// `<name>.corrupt` and the store starts empty, so the daemon keeps serving.
    pub fn open(path: &Path, max_entries: usize, max_bytes: usize) -> KvStore {
        let entries = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Vec<Entry>>(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    let aside = path.with_extension("corrupt");
                    tracing::error!(path = %path.display(), "cache data unreadable ({e}); moved to {}", aside.display());
                    let _ = std::fs::rename(path, &aside);
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::error!(path = %path.display(), "cache data unreadable: {e}");
                Vec::new()
            }
        };
        KvStore {
            path: path.to_path_buf(),
            max_entries,
            max_bytes,
            entries: Mutex::new(entries),
        }
    }

    fn persist(&self, entries: &[Entry]) -> Result<(), KvError> {
        let data = serde_json::to_vec(entries).map_err(|e| KvError::Io(e.into()))?;
        crate::atomic_write(&self.path, &data).map_err(KvError::Io)
    }

    /// Apply `change` to a copy; commit it only if it fits and was written.
    fn update(&self, change: impl FnOnce(&mut Vec<Entry>)) -> Result<(), KvError> {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = guard.clone();
        change(&mut next);
        if next.len() > self.max_entries || size_of(&next) > self.max_bytes {
            return Err(KvError::Full {
                max_entries: self.max_entries,
                max_bytes: self.max_bytes,
            });
        }
        self.persist(&next)?;
        *guard = next;
        Ok(())
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.update(|v| match v.iter_mut().find(|e| e.key == key) {
            Some(e) => e.value = value.to_string(),
            None => v.push(Entry {
                key: key.to_string(),
                value: value.to_string(),
            }),
        })
    }

    pub fn get(&self, key: &str) -> Option<String> {
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.iter().find(|e| e.key == key).map(|e| e.value.clone())
    }

    pub fn all(&self) -> Vec<(String, String)> {
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    pub fn clear(&self) -> Result<(), KvError> {
        self.update(|v| v.clear())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_bounds() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cache.json");
        let s = KvStore::open(&p, 2, 100);
        s.set("a", "1").unwrap();
        s.set("b", "2").unwrap();
        s.set("a", "3").unwrap();
        assert!(matches!(s.set("c", "x"), Err(KvError::Full { .. })));
        assert!(matches!(
            s.set("a", &"x".repeat(200)),
            Err(KvError::Full { .. })
        ));
        let s2 = KvStore::open(&p, 2, 100);
        assert_eq!(
            s2.all(),
            vec![("a".into(), "3".into()), ("b".into(), "2".into())]
        );
        s2.clear().unwrap();
        assert!(KvStore::open(&p, 2, 100).all().is_empty());
    }

    #[test]
    fn corrupt_file_set_aside() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cache.json");
        std::fs::write(&p, b"{not json").unwrap();
        let s = KvStore::open(&p, 10, 100);
        assert!(s.all().is_empty());
        assert!(d.path().join("cache.corrupt").exists());
        s.set("k", "v").unwrap();
        assert_eq!(s.get("k").as_deref(), Some("v"));
    }
}
