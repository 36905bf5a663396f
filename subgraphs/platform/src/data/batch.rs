//! Per-request batch loading that does not depend on timing.
//!
//! async-graphql's `DataLoader` collects keys for a fixed delay, on a timer
//! in another task: under load the timer fires while the request's task is
//! still resolving a list's items, and one list's nested loads arrive in
//! several batches (2, 4, 6 … keys, each its own transaction). Yielding once
//! instead is not enough either: a long list's items are polled in slices
//! (`FuturesUnordered` returns after two of its futures yield), so one
//! "pass" of the executor does not reach every sibling.
//!
//! Here a batch is cut when the request is idle: the request's execution
//! runs inside [`drive`], which polls it until it can make no more progress
//! on its own (pending, without having woken itself); only then are the
//! loads that registered keys released, the first of them takes every key
//! registered so far and runs the batch, the others wait for that batch.
//! That is the moment every sibling resolver has registered its key, at any
//! length and any load: the number of batches depends only on the query's
//! shape. The fetch runs inside the request's own task (no spawn, no timer
//! thread). Outside [`drive`] (tests of a loader alone) a load yields once.
//!
//! Results (including "no row") are cached for the request; nothing outlives
//! it or crosses tenants, since each request builds its own loaders.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    hash::Hash,
    marker::PhantomData,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll, Wake, Waker},
};

use async_graphql::dataloader::Loader;
use futures::future::{BoxFuture, FutureExt, Shared};
use uuid::Uuid;

/// The loads of one request waiting for it to go idle.
#[derive(Default)]
struct Dispatcher {
    /// Bumped each time the waiting loads are released.
    generation: AtomicU64,
    waiters: Mutex<Vec<Waker>>,
}

tokio::task_local! {
    static DISPATCHER: Arc<Dispatcher>;
}

/// Runs a request's execution so that its loads batch at idle points.
pub async fn drive<F: Future>(fut: F) -> F::Output {
    let dispatcher = Arc::new(Dispatcher::default());
    DISPATCHER
        .scope(
            dispatcher.clone(),
            Drive {
                fut: Box::pin(fut),
                dispatcher,
                noting: None,
            },
        )
        .await
}

struct Drive<F: Future> {
    fut: Pin<Box<F>>,
    dispatcher: Arc<Dispatcher>,
    /// Made once per request (not per poll: this is every request's hot path).
    noting: Option<(Arc<Noting>, Waker)>,
}

/// Wakes the task and remembers that the execution woke itself.
struct Noting {
    task: Mutex<Waker>,
    woken: AtomicBool,
}

impl Wake for Noting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        lock(&self.task).wake_by_ref();
    }
}

impl<F: Future> Future for Drive<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let (noting, waker) = match &self.noting {
            Some((n, w)) => {
                let mut task = lock(&n.task);
                if !task.will_wake(cx.waker()) {
                    *task = cx.waker().clone();
                }
                drop(task);
                (n.clone(), w.clone())
            }
            None => {
                let n = Arc::new(Noting {
                    task: Mutex::new(cx.waker().clone()),
                    woken: AtomicBool::new(false),
                });
                let w = Waker::from(n.clone());
                self.noting = Some((n.clone(), w.clone()));
                (n, w)
            }
        };
        loop {
            noting.woken.store(false, Ordering::SeqCst);
            if let Poll::Ready(v) = self.fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(v);
            }
            if noting.woken.load(Ordering::SeqCst) {
                // It has more to do (it yielded); the task runs again soon.
                return Poll::Pending;
            }
            let waiters = std::mem::take(&mut *lock(&self.dispatcher.waiters));
            if waiters.is_empty() {
                // Waiting on I/O (a batch, the network): woken by it.
                return Poll::Pending;
            }
            self.dispatcher.generation.fetch_add(1, Ordering::SeqCst);
            waiters.into_iter().for_each(Waker::wake);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the data inconsistent in
    // a way that matters more than the panic itself.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Until the request is idle (inside [`drive`]), or one yield outside it.
async fn idle() {
    match DISPATCHER.try_with(Arc::clone) {
        Ok(d) => {
            let since = d.generation.load(Ordering::SeqCst);
            futures::future::poll_fn(|cx| {
                if d.generation.load(Ordering::SeqCst) > since {
                    return Poll::Ready(());
                }
                lock(&d.waiters).push(cx.waker().clone());
                Poll::Pending
            })
            .await
        }
        Err(_) => tokio::task::yield_now().await,
    }
}

/// A running batch: its keys and the rows found.
type Batch<K, V, E> = Shared<BoxFuture<'static, Result<Arc<(Vec<K>, HashMap<K, V>)>, E>>>;

struct State<K, V, E> {
    /// Settled keys: `None` means the batch found no row.
    done: HashMap<K, Option<V>>,
    /// Keys registered since the last batch was cut.
    waiting: HashSet<K>,
    /// Keys whose batch is running, and that batch.
    running: HashMap<K, Batch<K, V, E>>,
}

/// A per-request loader over an async-graphql [`Loader`] (the batch
/// function); `K` is its key type.
pub struct Loaded<T: Loader<K>, K: Send + Sync + Hash + Eq + Clone + 'static = Uuid> {
    loader: Arc<T>,
    state: Mutex<State<K, T::Value, T::Error>>,
    _key: PhantomData<fn(K)>,
}

/// Wraps a batch function for one request.
pub fn cached<T: Loader<K>, K: Send + Sync + Hash + Eq + Clone + 'static>(loader: T) -> Loaded<T, K> {
    Loaded {
        loader: Arc::new(loader),
        state: Mutex::new(State {
            done: HashMap::new(),
            waiting: HashSet::new(),
            running: HashMap::new(),
        }),
        _key: PhantomData,
    }
}

impl<T, K> Loaded<T, K>
where
    T: Loader<K>,
    T::Error: Sync,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    pub async fn load_one(&self, key: K) -> Result<Option<T::Value>, T::Error> {
        Ok(self.load_many([key]).await?.into_values().next())
    }

    /// The values of the keys that have one; keys without a row are absent.
    pub async fn load_many(&self, keys: impl IntoIterator<Item = K>) -> Result<HashMap<K, T::Value>, T::Error> {
        let keys: Vec<K> = keys.into_iter().collect();
        let mut out = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let mut st = self.lock();
            for k in keys {
                match st.done.get(&k) {
                    Some(Some(v)) => {
                        out.insert(k, v.clone());
                    }
                    Some(None) => {}
                    None => {
                        if !st.running.contains_key(&k) {
                            st.waiting.insert(k.clone());
                        }
                        missing.push(k);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        // Let every sibling resolver register its keys first: wait until the
        // request has nothing left to run ([`drive`]).
        idle().await;
        for batch in self.cut_and_collect(&missing) {
            let done = batch.clone().await?;
            let (batch_keys, rows) = (&done.0, &done.1);
            let mut st = self.lock();
            // Any waiter may settle the batch; the result is the same.
            for k in batch_keys {
                if st.running.get(k).is_some_and(|b| b.ptr_eq(&batch)) {
                    st.running.remove(k);
                }
                st.done.insert(k.clone(), rows.get(k).cloned());
            }
        }
        let st = self.lock();
        for k in missing {
            if let Some(Some(v)) = st.done.get(&k) {
                out.insert(k, v.clone());
            }
        }
        Ok(out)
    }

    /// Starts a batch for every key registered so far (if any) and returns
    /// the distinct batches `keys` wait on.
    fn cut_and_collect(&self, keys: &[K]) -> Vec<Batch<K, T::Value, T::Error>> {
        let mut st = self.lock();
        if !st.waiting.is_empty() {
            let batch_keys: Vec<K> = st.waiting.drain().collect();
            let loader = self.loader.clone();
            let ks = batch_keys.clone();
            let batch: Batch<K, T::Value, T::Error> = async move {
                let rows = loader.load(&ks).await?;
                Ok(Arc::new((ks, rows)))
            }
            .boxed()
            .shared();
            for k in batch_keys {
                st.running.insert(k, batch.clone());
            }
        }
        let mut batches: Vec<Batch<K, T::Value, T::Error>> = Vec::new();
        for k in keys {
            if let Some(b) = st.running.get(k) {
                if !batches.iter().any(|x| x.ptr_eq(b)) {
                    batches.push(b.clone());
                }
            }
        }
        batches
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K, T::Value, T::Error>> {
        lock(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Even keys have a row (twice the key); counts its batches.
    struct Doubles(Arc<AtomicUsize>);

    impl Loader<u32> for Doubles {
        type Value = u32;
        type Error = Arc<String>;
        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Self::Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if keys.contains(&1013) {
                return Err(Arc::new("unlucky".into()));
            }
            // Slow enough that a timer-cut batch would split.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            Ok(keys.iter().filter(|k| *k % 2 == 0).map(|k| (*k, k * 2)).collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn siblings_share_one_batch_and_results_are_cached_for_the_request() {
        let calls = Arc::new(AtomicUsize::new(0));
        let loaded = cached(Doubles(calls.clone()));
        let found = futures::future::join_all((0..200u32).map(|k| loaded.load_one(k))).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "200 sibling loads, one batch");
        assert_eq!(found[4], Ok(Some(8)));
        assert_eq!(found[5], Ok(None));
        // Found and not found alike are settled for the rest of the request.
        assert_eq!(loaded.load_one(4).await, Ok(Some(8)));
        assert_eq!(loaded.load_one(5).await, Ok(None));
        assert_eq!(loaded.load_many([2, 3, 6]).await.map(|m| m.len()), Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A failed batch fails every load that waited on it.
        let failed = futures::future::join_all([loaded.load_one(1013), loaded.load_one(1000)]).await;
        assert!(failed.iter().all(|r| r.is_err()), "{failed:?}");
    }

    /// Batches share the request's one connection (a lock), as loaders do.
    struct Serial(Arc<AtomicUsize>, Arc<tokio::sync::Mutex<()>>);

    impl Loader<u32> for Serial {
        type Value = u32;
        type Error = Arc<String>;
        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Self::Error> {
            let _conn = self.1.lock().await;
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            Ok(keys.iter().map(|k| (*k, k + 1)).collect())
        }
    }

    /// A long list whose items load two things at once (waiting on each
    /// other's connection), then nested values: one batch per loader inside
    /// `drive`, however the executor polls the items.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nested_levels_of_a_long_list_are_one_batch_each() {
        let conn = Arc::new(tokio::sync::Mutex::new(()));
        let calls: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let first = cached(Serial(calls[0].clone(), conn.clone()));
        let second = cached(Serial(calls[1].clone(), conn.clone()));
        let nested = cached(Serial(calls[2].clone(), conn.clone()));
        let item = |k: u32| {
            let (first, second, nested) = (&first, &second, &nested);
            async move {
                let (a, b) = futures::future::try_join(first.load_one(k), second.load_one(0)).await?;
                let a = a.unwrap_or_default() + b.unwrap_or_default();
                futures::future::try_join_all((0..3).map(|j| nested.load_one(a * 4 + j))).await
            }
        };
        let done = drive(futures::future::try_join_all((0..300u32).map(item))).await;
        assert!(done.is_ok(), "{done:?}");
        let counts: Vec<usize> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert_eq!(counts, [1, 1, 1], "one batch per loader");
    }
}
