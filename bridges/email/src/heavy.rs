//! Work that costs CPU in proportion to what a stranger sent (parsing a mail, HTML to
//! text, quote stripping) runs here, on tokio's blocking threads, never on the async
//! workers that carry every transport, HTTP and the XMPP keepalives. At most
//! [`Heavy::limit`] such jobs run at once; the others wait their turn (their SMTP client
//! waits for its reply), so a handful of hostile connections cannot take every core.

use std::sync::Arc;
use tokio::sync::Semaphore;

/// A bounded pool of heavy jobs.
pub struct Heavy {
    permits: Arc<Semaphore>,
    limit: usize,
}

/// Why a heavy job gave no result.
#[derive(Debug, thiserror::Error)]
pub enum HeavyError {
    /// The job panicked or was cancelled at shutdown.
    #[error("the job did not finish")]
    Lost,
}

impl Heavy {
    /// At most `limit` jobs at once (at least one).
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Heavy {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Half the cores (at least one): the other half stays free for everything else.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Heavy::new(cores / 2)
    }

    /// How many jobs may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Runs `job` on a blocking thread once a slot is free.
    pub async fn run<T, F>(&self, job: F) -> Result<T, HeavyError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HeavyError::Lost)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|_| HeavyError::Lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_leave_the_async_thread_free_and_are_bounded() {
        let heavy = Arc::new(Heavy::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut jobs = Vec::new();
        for _ in 0..6 {
            let (heavy, running, most) = (heavy.clone(), running.clone(), most.clone());
            jobs.push(tokio::spawn(async move {
                heavy
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        // The only async thread keeps running timers while the jobs sleep.
        let started = std::time::Instant::now();
        let mut ticks = 0;
        while jobs.iter().any(|j| !j.is_finished()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticks += 1;
        }
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "at most two at once");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "6 jobs, 2 at a time"
        );
        assert!(ticks >= 20, "the async thread was blocked ({ticks} ticks)");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_crash() {
        let heavy = Heavy::new(1);
        let r: Result<(), _> = heavy.run(|| panic!("boom")).await;
        assert!(matches!(r, Err(HeavyError::Lost)));
        assert_eq!(heavy.run(|| 7).await.unwrap(), 7, "the slot came back");
    }
}
