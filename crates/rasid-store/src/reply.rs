//! A one-shot reply that a thread can block on and async code can await.
//!
//! The ledger answers every request exactly once, from its writer thread, after the commit.
//! The CLI waits for that answer on its own thread, while the HTTP server awaits it on the async
//! runtime: a blocking receive there would pin a thread of the blocking pool for every request
//! in flight and add two thread hand-overs to each reply. One slot serves both: [`Completer`]
//! fills it and then wakes whichever kind of waiter is there — a parked thread through the
//! condition variable, or a task through its [`Waker`] — and nothing else.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

enum Slot<T> {
    /// No answer yet; the task to wake when it comes, if one has polled, and whether a thread
    /// is blocked in [`Receiver::wait`].
    Waiting {
        waker: Option<Waker>,
        thread: bool,
    },
    Ready(T),
    /// The completer was dropped without answering.
    Abandoned,
    /// The answer was taken.
    Taken,
}

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        // Nothing panics while holding this lock, but a poisoned one would still hold a
        // consistent slot: every write to it is a single assignment.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fill(&self, value: Slot<T>) {
        let (waker, thread) = {
            let mut slot = self.lock();
            match std::mem::replace(&mut *slot, value) {
                Slot::Waiting { waker, thread } => (waker, thread),
                // Filled once only: `Completer` is consumed by `complete`, and its drop fills
                // only when `complete` did not run.
                other => {
                    *slot = other;
                    return;
                }
            }
        };
        // Woken outside the lock, so the woken side does not find it held. The condition
        // variable only when a thread waits on it: notifying is a system call even with no
        // waiter, and the writer answers every reply of a commit in a row, most of them to
        // tasks, which the waker reaches.
        if thread {
            self.ready.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The sending half: answers once, consuming itself. Dropping it unanswered (a ledger that
/// stops) makes the waiter see `None`.
pub(crate) struct Completer<T> {
    shared: Option<Arc<Shared<T>>>,
}

impl<T> Completer<T> {
    pub(crate) fn complete(mut self, value: T) {
        if let Some(shared) = self.shared.take() {
            shared.fill(Slot::Ready(value));
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.fill(Slot::Abandoned);
        }
    }
}

/// The receiving half: [`Receiver::wait`] blocks the thread, `.await` suspends the task.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Blocks until the answer comes; `None` if the completer was dropped unanswered.
    pub(crate) fn wait(self) -> Option<T> {
        let mut slot = self.shared.lock();
        loop {
            match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Ready(value) => return Some(value),
                Slot::Abandoned | Slot::Taken => return None,
                Slot::Waiting { waker, .. } => {
                    // Marked under the lock, so a completer that fills the slot after this
                    // sees it and notifies.
                    *slot = Slot::Waiting { waker, thread: true };
                    slot = self.shared.ready.wait(slot).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.shared.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Ready(value) => Poll::Ready(Some(value)),
            Slot::Abandoned | Slot::Taken => Poll::Ready(None),
            Slot::Waiting { waker, thread } => {
                // Keep the stored waker when it would wake the same task: cloning one costs an
                // atomic increment per poll.
                let waker = match waker {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                *slot = Slot::Waiting { waker: Some(waker), thread };
                Poll::Pending
            }
        }
    }
}

/// A connected pair.
pub(crate) fn channel<T>() -> (Completer<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot::Waiting { waker: None, thread: false }),
        ready: Condvar::new(),
    });
    (Completer { shared: Some(shared.clone()) }, Receiver { shared })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_waits_for_the_answer() {
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || rx.wait());
        std::thread::sleep(std::time::Duration::from_millis(10));
        tx.complete(7);
        assert_eq!(t.join().unwrap(), Some(7));
    }

    #[test]
    fn an_answer_before_the_wait_is_kept_and_a_dropped_completer_is_none() {
        let (tx, rx) = channel();
        tx.complete("done");
        assert_eq!(rx.wait(), Some("done"));
        let (tx, rx) = channel::<u8>();
        drop(tx);
        assert_eq!(rx.wait(), None);
    }

    /// A waker that counts its wakes, so the test needs no async runtime.
    struct Count(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_task_is_woken_once_the_answer_is_in() {
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel();
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        std::thread::spawn(move || tx.complete(3)).join().unwrap();
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Some(3)));
    }
}
