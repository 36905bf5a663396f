//! Per-request batch loading that does not depend on timing.
//!
//! async-graphql's `DataLoader` collects keys for a fixed delay, on a timer
//! in another task: under load the timer fires while the request's task is
//! still resolving a list's items, and one list's nested loads arrive in
//! several batches (2, 4, 6 … keys, each its own transaction). Here a batch
//! is cut by the request itself: a load registers its key and yields once,
//! so every sibling resolver in the same pass registers its key too; the
//! first load to run again takes all the keys registered so far and runs the
//! batch, the others wait for that batch. The fetch runs inside the
//! request's own task (no spawn, no timer thread), and the number of batches
//! depends only on the query's shape, never on the machine's load.
//!
//! Results (including "no row") are cached for the request; nothing outlives
//! it or crosses tenants, since each request builds its own loaders.

use std::{
    collections::{HashMap, HashSet},
    hash::Hash,
    marker::PhantomData,
    sync::{Arc, Mutex},
};

use async_graphql::dataloader::Loader;
use futures::future::{BoxFuture, FutureExt, Shared};
use uuid::Uuid;

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
        // Let every sibling resolver of this pass register its keys first.
        tokio::task::yield_now().await;
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
        // A panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters more than the panic itself.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
}
