//! Admission of heavy work: a byte-weighted memory budget and a cap on heavy jobs at once.
//!
//! Request bodies, decoded images, merges and documents reserve their estimated memory before
//! they allocate it. What can never fit the whole budget is refused at once ("too large", code
//! "10"); what does not fit now waits up to `wait`, then gets "busy" (code "15"). Heavy handlers
//! also take one of a few job slots (about one per core), so a burst of requests queues instead of
//! starting hundreds of threads that each hold a picture.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorKind, Text};

/// Reservations are counted in KiB, so a u32 of permits covers any real budget.
const UNIT: u64 = 1024;

/// The device's budget for heavy work.
#[derive(Debug)]
pub struct Budget {
    memory: Arc<Semaphore>,
    memory_units: u32,
    jobs: Arc<Semaphore>,
    job_count: usize,
    wait: Duration,
}

/// Memory (and possibly a job slot) held until dropped.
#[derive(Debug, Default)]
#[must_use = "the reservation ends when this is dropped"]
pub struct Reservation {
    permits: Vec<OwnedSemaphorePermit>,
    bytes: u64,
}

impl Reservation {
    /// Bytes of memory held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Hold another reservation's permits too.
    pub fn merge(&mut self, other: Reservation) {
        self.bytes += other.bytes;
        self.permits.extend(other.permits);
    }
}

impl Budget {
    /// `memory_bytes` for heavy work, `jobs` heavy jobs at once, `wait` before "busy".
    pub fn new(memory_bytes: u64, jobs: usize, wait: Duration) -> Arc<Budget> {
        let units = (memory_bytes / UNIT)
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u64)
            as u32;
        let jobs = jobs.max(1);
        Arc::new(Budget {
            memory: Arc::new(Semaphore::new(units as usize)),
            memory_units: units,
            jobs: Arc::new(Semaphore::new(jobs)),
            job_count: jobs,
            wait,
        })
    }

    /// A budget that admits everything at once (tests and tools).
    pub fn unlimited() -> Arc<Budget> {
        Budget::new(u32::MAX as u64 * UNIT, 1 << 16, Duration::from_secs(1))
    }

    /// The whole memory budget in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_units as u64 * UNIT
    }

    pub fn jobs(&self) -> usize {
        self.job_count
    }

    /// Memory reserved now, in bytes.
    pub fn memory_in_use(&self) -> u64 {
        (self.memory_units as u64 - self.memory.available_permits() as u64) * UNIT
    }

    /// "Too large" when `bytes` could never be reserved, whatever else is running.
    pub fn fits(&self, bytes: u64, what: &Text) -> Result<(), ApiError> {
        self.units(bytes, what).map(|_| ())
    }

    fn units(&self, bytes: u64, what: &Text) -> Result<u32, ApiError> {
        let units = bytes.div_ceil(UNIT).max(1);
        if units > self.memory_units as u64 {
            let mib = |b: u64| b.div_ceil(1 << 20);
            return Err(ApiError::too_large(Text::new(
                format!(
                    "{}需要约 {} MiB 内存，超过设备的处理内存 {} MiB",
                    what.zh,
                    mib(bytes),
                    mib(self.memory_bytes())
                ),
                format!(
                    "{} needs about {} MiB of memory, more than the device's {} MiB for such work",
                    what.en,
                    mib(bytes),
                    mib(self.memory_bytes())
                ),
            )));
        }
        Ok(units as u32)
    }

    fn busy(&self, what: &Text) -> ApiError {
        ApiError::with(
            ErrorKind::Busy,
            Text::new(
                format!("{}：处理内存或处理槽位已被占用", what.zh),
                format!(
                    "{}: the device's work memory or job slots are taken",
                    what.en
                ),
            ),
        )
    }

    /// Reserve `bytes` of memory for `what` (words for the error message).
    pub async fn memory(&self, bytes: u64, what: Text) -> Result<Reservation, ApiError> {
        let units = self.units(bytes, &what)?;
        match tokio::time::timeout(self.wait, self.memory.clone().acquire_many_owned(units)).await {
            Ok(Ok(p)) => Ok(Reservation {
                permits: vec![p],
                bytes,
            }),
            _ => {
                tracing::debug!(bytes, in_use = self.memory_in_use(), "work memory busy");
                Err(self.busy(&what))
            }
        }
    }

    /// [`Budget::memory`] from blocking code (a handler running off the async runtime).
    pub fn memory_blocking(&self, bytes: u64, what: Text) -> Result<Reservation, ApiError> {
        let units = self.units(bytes, &what)?;
        if let Ok(p) = self.memory.clone().try_acquire_many_owned(units) {
            return Ok(Reservation {
                permits: vec![p],
                bytes,
            });
        }
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| ApiError::internal("work memory reserved outside the runtime"))?;
        handle.block_on(self.memory(bytes, what))
    }

    /// One heavy-job slot.
    pub async fn job(&self, what: Text) -> Result<Reservation, ApiError> {
        match tokio::time::timeout(self.wait, self.jobs.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(Reservation {
                permits: vec![p],
                bytes: 0,
            }),
            _ => {
                tracing::debug!("heavy job slots busy");
                Err(self.busy(&what))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Text {
        Text::same("test")
    }

    #[tokio::test]
    async fn reserve_release_refuse() {
        let b = Budget::new(10 << 20, 1, Duration::from_millis(50));
        let a = b.memory(6 << 20, t()).await.unwrap();
        assert_eq!(b.memory_in_use(), 6 << 20);
        // Does not fit now: busy after the wait.
        assert_eq!(
            b.memory(6 << 20, t()).await.err().unwrap().kind,
            ErrorKind::Busy
        );
        // Never fits: too large at once.
        assert_eq!(
            b.memory(11 << 20, t()).await.err().unwrap().kind,
            ErrorKind::TooLarge
        );
        drop(a);
        assert_eq!(b.memory_in_use(), 0);
        let j = b.job(t()).await.unwrap();
        assert_eq!(b.job(t()).await.err().unwrap().kind, ErrorKind::Busy);
        drop(j);
        assert!(b.job(t()).await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_waits_for_release() {
        let b = Budget::new(4 << 20, 1, Duration::from_secs(5));
        let held = b.memory(3 << 20, t()).await.unwrap();
        let b2 = b.clone();
        let waiter = tokio::task::spawn_blocking(move || {
            b2.memory_blocking(2 << 20, t()).map(|r| r.bytes())
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert_eq!(waiter.await.unwrap().unwrap(), 2 << 20);
    }
}
