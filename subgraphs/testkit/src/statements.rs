//! Counting the SQL statements a subgraph runs, to prove that a list costs
//! the same at any length and under concurrent load (`platform::batch`).
//! sqlx logs every statement under the `sqlx::query` target; a global
//! tracing subscriber counts them, so a test binary that counts holds one
//! test (run it as its own `tests/statements.rs`).

use std::{
    future::Future,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use tracing_subscriber::{layer::SubscriberExt, Layer};

/// Every statement sqlx ran in this process since [`Statements::install`].
#[derive(Clone)]
pub struct Statements(Arc<AtomicUsize>);

struct Count(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for Count {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Statements {
    /// Installs the counting subscriber (once per process).
    pub fn install() -> Self {
        let n = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE))
            .with(Count(n.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("one counting subscriber per test binary");
        Statements(n)
    }

    pub fn now(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Statements `f` ran.
    pub async fn of<T>(&self, f: impl Future<Output = T>) -> usize {
        let before = self.now();
        f.await;
        self.now() - before
    }

    /// Asserts that a list query costs the same statements at two lengths
    /// (`run(n)` runs it with `n` items) and, `concurrency` requests at once,
    /// exactly `concurrency` times that. Returns the cost of one request.
    pub async fn assert_constant<F, Fut>(&self, what: &str, lengths: [usize; 2], concurrency: usize, run: F) -> usize
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let short = self.of(run(lengths[0])).await;
        let long = self.of(run(lengths[1])).await;
        assert!(short > 0, "{what}: the counter must see the statements");
        assert_eq!(
            short, long,
            "{what}: statements must not grow with the list ({lengths:?})"
        );
        let before = self.now();
        let handles: Vec<_> = (0..concurrency).map(|_| tokio::spawn(run(lengths[1]))).collect();
        for h in handles {
            h.await.expect("request");
        }
        let loaded = self.now() - before;
        println!(
            "{what}: {long} statements per request idle, {:.1} under {concurrency} concurrent requests",
            loaded as f64 / concurrency as f64
        );
        assert_eq!(
            loaded,
            long * concurrency,
            "{what}: {concurrency} concurrent requests must cost {concurrency} × {long} statements"
        );
        long
    }
}
