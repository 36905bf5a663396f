//! Persisted queries: an Apollo persisted-query manifest, reloaded when its
//! file changes, and the decision of what a request may run.
//!
//! Partners may only send ids. First-party clients send ids, or ad-hoc
//! operations where configuration allows it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use platform_base::digest::sha256_hex;
use serde::Deserialize;

use crate::Rejection;

#[derive(Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    operations: Vec<ManifestOperation>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ManifestOperation {
    pub id: String,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub body: String,
}

type Operations = Arc<HashMap<String, Arc<ManifestOperation>>>;

/// The files a manifest path names, with their modification times: the file
/// itself, or every `*.json` in a directory (one manifest per client).
type Snapshot = Vec<(PathBuf, Option<SystemTime>)>;

/// The safelist, swapped atomically on reload.
pub struct ManifestStore {
    path: PathBuf,
    operations: RwLock<Operations>,
    loaded: RwLock<Option<Snapshot>>,
}

impl ManifestStore {
    /// Loads a manifest file, or every manifest (`*.json`) in a directory.
    pub fn load(path: &Path) -> anyhow::Result<Arc<Self>> {
        let store = ManifestStore {
            path: path.to_path_buf(),
            operations: RwLock::new(Arc::new(HashMap::new())),
            loaded: RwLock::new(None),
        };
        store.reload()?;
        Ok(Arc::new(store))
    }

    fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if !self.path.is_dir() {
            return Ok(vec![(self.path.clone(), mtime(&self.path))]);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.path)
            .map_err(|e| anyhow::anyhow!("persisted query manifests {}: {e}", self.path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        anyhow::ensure!(
            !files.is_empty(),
            "persisted query manifests {}: no *.json manifest in the directory",
            self.path.display()
        );
        Ok(files.into_iter().map(|p| (mtime(&p), p)).map(|(m, p)| (p, m)).collect())
    }

    /// Reads and validates every manifest; on error the previous list stays.
    pub fn reload(&self) -> anyhow::Result<usize> {
        let snapshot = self.snapshot()?;
        let mut ops = HashMap::new();
        for (file, _) in &snapshot {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("persisted query manifest {}: {e}", file.display()))?;
            ops.extend(parse(&text).map_err(|e| anyhow::anyhow!("persisted query manifest {}: {e}", file.display()))?);
        }
        let n = ops.len();
        if let Ok(mut w) = self.operations.write() {
            *w = Arc::new(ops);
        }
        if let Ok(mut m) = self.loaded.write() {
            *m = Some(snapshot);
        }
        Ok(n)
    }

    /// Reloads when a manifest was added, removed or modified.
    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        let now = self.snapshot()?;
        let changed = self
            .loaded
            .read()
            .ok()
            .is_some_and(|known| known.as_ref() != Some(&now));
        if changed {
            let n = self.reload()?;
            tracing::info!(path = %self.path.display(), operations = n, "persisted query manifests reloaded");
            return Ok(true);
        }
        Ok(false)
    }

    /// Polls the manifests every `interval` on the current Tokio runtime.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if let Err(e) = store.reload_if_changed() {
                    tracing::error!(error = %e, "keeping the previous persisted query manifests");
                }
            }
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<ManifestOperation>> {
        self.operations.read().ok().and_then(|ops| ops.get(id).cloned())
    }

    pub fn len(&self) -> usize {
        self.operations.read().map(|o| o.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn parse(text: &str) -> anyhow::Result<HashMap<String, Arc<ManifestOperation>>> {
    let m: Manifest = serde_json::from_str(text)?;
    anyhow::ensure!(
        m.format == "apollo-persisted-query-manifest" && m.version == 1,
        "expected format apollo-persisted-query-manifest, version 1"
    );
    let mut ops = HashMap::new();
    for op in m.operations {
        // Ids are the SHA-256 of the body (Apollo's convention): a mismatch
        // means a hand-edited or corrupted manifest.
        let digest = sha256_hex(&op.body);
        anyhow::ensure!(
            digest == op.id,
            "operation {:?}: id is not the SHA-256 of its body",
            op.name
        );
        ops.insert(op.id.clone(), Arc::new(op));
    }
    Ok(ops)
}

/// What the request asked for.
pub struct PqRequest<'a> {
    /// `extensions.persistedQuery.sha256Hash` or `documentId`.
    pub id: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// What to run.
#[derive(Debug, PartialEq)]
pub enum PqDecision {
    /// Run this operation body from the manifest.
    Persisted(String),
    /// Run the ad-hoc operation the client sent.
    AdHoc,
}

/// Decides what a request may run. `partner` callers may only send ids;
/// first-party callers may send ad-hoc operations when `allow_ad_hoc`.
pub fn decide(
    store: &ManifestStore,
    req: &PqRequest<'_>,
    partner: bool,
    allow_ad_hoc: bool,
) -> Result<PqDecision, Rejection> {
    let query = req.query.filter(|q| !q.trim().is_empty());
    match (req.id, query) {
        (Some(id), query) => {
            let op = store.get(id).ok_or_else(|| {
                Rejection::new(
                    400,
                    "PERSISTED_QUERY_NOT_IN_LIST",
                    format!("No persisted operation has the id {id}."),
                )
            })?;
            if partner && query.is_some() {
                return Err(id_required());
            }
            match query {
                Some(q) if q != op.body => Err(Rejection::new(
                    400,
                    "CANNOT_SEND_PQ_ID_AND_BODY",
                    "Send either a persisted operation id or an operation body, not an id with a different body.",
                )),
                _ => Ok(PqDecision::Persisted(op.body.clone())),
            }
        }
        (None, Some(_)) if partner || !allow_ad_hoc => Err(id_required()),
        (None, Some(_)) => Ok(PqDecision::AdHoc),
        (None, None) => Err(Rejection::new(
            400,
            "BAD_REQUEST",
            "Send a persisted operation id or an operation.",
        )),
    }
}

fn id_required() -> Rejection {
    Rejection::new(
        400,
        "PERSISTED_QUERY_ID_REQUIRED",
        "Only persisted operations are accepted: send extensions.persistedQuery.sha256Hash or documentId.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(body: &str) -> (Arc<ManifestStore>, String, PathBuf) {
        let id = sha256_hex(body);
        let path = std::env::temp_dir().join(format!("pq-{}-{}.json", std::process::id(), uuid::Uuid::new_v4()));
        let manifest = serde_json::json!({
            "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": id, "name": "Me", "type": "query", "body": body }]
        });
        std::fs::write(&path, manifest.to_string()).unwrap();
        (ManifestStore::load(&path).unwrap(), id, path)
    }

    #[test]
    fn partners_may_only_send_known_ids() {
        let (s, id, _) = store("query Me { me { id } }");
        let ok = decide(
            &s,
            &PqRequest {
                id: Some(&id),
                query: None,
            },
            true,
            true,
        )
        .unwrap();
        assert_eq!(ok, PqDecision::Persisted("query Me { me { id } }".into()));
        let body = decide(
            &s,
            &PqRequest {
                id: None,
                query: Some("{ me { id } }"),
            },
            true,
            true,
        )
        .unwrap_err();
        assert_eq!(body.code, "PERSISTED_QUERY_ID_REQUIRED");
        let with_body = decide(
            &s,
            &PqRequest {
                id: Some(&id),
                query: Some("query Me { me { id } }"),
            },
            true,
            true,
        )
        .unwrap_err();
        assert_eq!(with_body.code, "PERSISTED_QUERY_ID_REQUIRED");
        let unknown = decide(
            &s,
            &PqRequest {
                id: Some("abc"),
                query: None,
            },
            true,
            true,
        )
        .unwrap_err();
        assert_eq!(unknown.code, "PERSISTED_QUERY_NOT_IN_LIST");
    }

    #[test]
    fn first_party_ad_hoc_operations_follow_configuration() {
        let (s, id, _) = store("query Me { me { id } }");
        let q = PqRequest {
            id: None,
            query: Some("{ me { id } }"),
        };
        assert_eq!(decide(&s, &q, false, true).unwrap(), PqDecision::AdHoc);
        assert_eq!(
            decide(&s, &q, false, false).unwrap_err().code,
            "PERSISTED_QUERY_ID_REQUIRED"
        );
        let mismatch = PqRequest {
            id: Some(&id),
            query: Some("{ other }"),
        };
        assert_eq!(
            decide(&s, &mismatch, false, true).unwrap_err().code,
            "CANNOT_SEND_PQ_ID_AND_BODY"
        );
        let same = PqRequest {
            id: Some(&id),
            query: Some("query Me { me { id } }"),
        };
        assert!(matches!(
            decide(&s, &same, false, false).unwrap(),
            PqDecision::Persisted(_)
        ));
    }

    #[test]
    fn the_manifest_reloads_when_the_file_changes_and_keeps_the_old_list_on_errors() {
        let (s, id, path) = store("query Me { me { id } }");
        assert!(s.get(&id).is_some());
        let body = "query Org { currentOrganization { id } }";
        let id2 = sha256_hex(body);
        let m = serde_json::json!({ "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": id2, "name": "Org", "type": "query", "body": body }] });
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, m.to_string()).unwrap();
        let bumped = SystemTime::now() + Duration::from_secs(2);
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(bumped).unwrap();
        assert!(s.reload_if_changed().unwrap());
        assert!(s.get(&id).is_none() && s.get(&id2).is_some());
        std::fs::write(&path, "{ not json").unwrap();
        f.set_modified(bumped + Duration::from_secs(2)).unwrap();
        assert!(s.reload_if_changed().is_err());
        assert!(s.get(&id2).is_some(), "a broken file keeps the previous list");
    }

    #[test]
    fn a_manifest_with_a_wrong_id_is_refused() {
        let path = std::env::temp_dir().join(format!("pq-bad-{}.json", uuid::Uuid::new_v4()));
        let m = serde_json::json!({ "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": "deadbeef", "name": "X", "type": "query", "body": "{ x }" }] });
        std::fs::write(&path, m.to_string()).unwrap();
        assert!(ManifestStore::load(&path).is_err());
    }

    fn manifest_json(bodies: &[(&str, &str)]) -> String {
        let ops: Vec<_> = bodies
            .iter()
            .map(|(name, body)| serde_json::json!({ "id": sha256_hex(body), "name": name, "type": "query", "body": body }))
            .collect();
        serde_json::json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": ops }).to_string()
    }

    #[test]
    fn a_directory_merges_every_clients_manifest_and_follows_new_ones() {
        let dir = std::env::temp_dir().join(format!("pq-dir-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (me, org, appts) = (
            "query Me { me { id } }",
            "query Org { currentOrganization { id } }",
            "query A { appointments { nodes { id } } }",
        );
        std::fs::write(dir.join("web.json"), manifest_json(&[("Me", me), ("Org", org)])).unwrap();
        std::fs::write(dir.join("partner.json"), manifest_json(&[("A", appts)])).unwrap();
        std::fs::write(dir.join("README.txt"), "not a manifest").unwrap();
        let s = ManifestStore::load(&dir).unwrap();
        assert_eq!(s.len(), 3);
        assert!(!s.reload_if_changed().unwrap(), "nothing changed");

        let new = "query New { me { displayName } }";
        std::fs::write(dir.join("other.json"), manifest_json(&[("New", new), ("Me", me)])).unwrap();
        assert!(s.reload_if_changed().unwrap());
        assert_eq!(s.len(), 4, "an operation in two manifests counts once");
        std::fs::remove_file(dir.join("partner.json")).unwrap();
        assert!(s.reload_if_changed().unwrap());
        assert!(s.get(&sha256_hex(appts)).is_none() && s.get(&sha256_hex(new)).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_committed_client_manifests_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend-codegen/manifests");
        let s = ManifestStore::load(&dir).unwrap();
        assert!(s.len() >= 9, "{} operations", s.len());
    }
}
