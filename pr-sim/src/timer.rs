// SPDX-License-Identifier: MIT OR Apache-2.0
//! A sub-millisecond sleep for simulated path latency.
//!
//! tokio's timer wheel has a resolution of one millisecond and rounds every deadline up,
//! and a parked worker waits on a millisecond timeout: a `tokio::time::sleep(1 ms)` really
//! lasts 2 to 2.6 ms. That is fine for timeouts but makes an injected "1 ms" latency a
//! different figure from the one asked for. [`precise_sleep`] instead hands the deadline to
//! one background thread (`pr-sim-timer`, started on first use) that keeps a heap of
//! deadlines and waits for the earliest with a condition variable (the kernel's
//! high-resolution timers; Linux adds its default 50 µs timer slack), then wakes the
//! sleeping tasks through oneshot channels. It works on any tokio runtime (or none: it
//! needs no reactor) and on the real clock only: a paused tokio clock does not affect it.
//!
//! Select it per path with [`SimPath::set_timer`](crate::sim::SimPath::set_timer).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How a path sleeps its injected latency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Timer {
    /// `tokio::time::sleep`: millisecond resolution, rounded up; follows a paused tokio
    /// clock, so tests with `start_paused` stay instantaneous and deterministic.
    #[default]
    Tokio,
    /// [`precise_sleep`]: the real clock, to within tens of microseconds on an idle machine.
    Precise,
}

struct Entry {
    deadline: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

fn shared() -> Option<&'static Shared> {
    static SHARED: OnceLock<Option<&'static Shared>> = OnceLock::new();
    *SHARED.get_or_init(|| {
        let s: &'static Shared = Box::leak(Box::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("pr-sim-timer".into())
            .spawn(move || run(s))
            .ok()
            .map(|_| s)
    })
}

fn run(s: &'static Shared) {
    let mut due = Vec::new();
    let mut q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = Instant::now();
        while let Some(Reverse(first)) = q.heap.peek() {
            if first.deadline > now {
                break;
            }
            if let Some(Reverse(e)) = q.heap.pop() {
                due.push(e.wake);
            }
        }
        if !due.is_empty() {
            drop(q);
            for wake in due.drain(..) {
                // A dropped receiver (a cancelled sleep) is not an error.
                let _ = wake.send(());
            }
            q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        q = match q.heap.peek() {
            None => s.changed.wait(q).unwrap_or_else(PoisonError::into_inner),
            Some(Reverse(first)) => {
                let left = first.deadline.saturating_duration_since(now);
                s.changed
                    .wait_timeout(q, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

/// Sleeps for `duration` on the real clock with sub-millisecond precision (see the module
/// documentation). Dropping the future cancels the sleep. Falls back to
/// `tokio::time::sleep` if the timer thread cannot be started.
pub async fn precise_sleep(duration: Duration) {
    let deadline = Instant::now().checked_add(duration);
    let (Some(s), Some(deadline)) = (shared(), deadline) else {
        tokio::time::sleep(duration).await;
        return;
    };
    let (tx, rx) = oneshot::channel();
    {
        let mut q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.seq = q.seq.wrapping_add(1);
        let seq = q.seq;
        let earliest = q.heap.peek().is_none_or(|Reverse(e)| deadline < e.deadline);
        q.heap.push(Reverse(Entry {
            deadline,
            seq,
            wake: tx,
        }));
        if earliest {
            s.changed.notify_one();
        }
    }
    // The sender is only dropped by the timer thread after sending.
    let _ = rx.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_at_least_the_duration_and_wakes_in_order() {
        let t0 = Instant::now();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, us) in [(0u32, 3000u64), (1, 1000), (2, 2000)] {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                precise_sleep(Duration::from_micros(us)).await;
                order.lock().unwrap().push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(t0.elapsed() >= Duration::from_millis(3));
        assert_eq!(*order.lock().unwrap(), vec![1, 2, 0]);
    }

    #[tokio::test]
    async fn a_dropped_sleep_does_not_stop_the_others() {
        let cancelled = tokio::time::timeout(
            Duration::from_millis(1),
            precise_sleep(Duration::from_secs(3600)),
        )
        .await;
        assert!(cancelled.is_err());
        let t0 = Instant::now();
        precise_sleep(Duration::from_micros(500)).await;
        assert!(t0.elapsed() >= Duration::from_micros(500));
    }

    #[test]
    fn works_without_a_runtime_reactor() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let t0 = Instant::now();
        rt.block_on(precise_sleep(Duration::from_micros(200)));
        assert!(t0.elapsed() >= Duration::from_micros(200));
    }
}
