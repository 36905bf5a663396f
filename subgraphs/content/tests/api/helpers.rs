//! `TestApp`: the content subgraph on a free port against a fresh database
//! and a fresh local store directory (or an S3-compatible server), with
//! tokens of any organization and role, and uploads through the signed URLs
//! exactly as a client makes them.

use std::{ops::Deref, path::PathBuf};

use content::Content;
use figment::Figment;
use platform::{Role, Vertical};
use serde_json::{json, Value};
use testkit::Caller;
use uuid::Uuid;

pub use testkit::code;

pub struct TestApp {
    pub app: testkit::App<Content>,
    pub store_dir: PathBuf,
    _dir: tempdir::Dir,
}

impl Deref for TestApp {
    type Target = testkit::App<Content>;
    fn deref(&self) -> &Self::Target {
        &self.app
    }
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// An organization and a user of it.
#[derive(Clone, Copy, Debug)]
pub struct Who {
    pub org: Uuid,
    pub user: Uuid,
}

impl Who {
    pub fn new() -> Self {
        Who {
            org: Uuid::new_v4(),
            user: Uuid::new_v4(),
        }
    }
}

pub const PDF: &[u8] =
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A PDF-looking file of `n` bytes (a PDF header, then filler).
pub fn pdf_of(n: usize) -> Vec<u8> {
    let mut v = PDF.to_vec();
    v.extend((0..n.saturating_sub(PDF.len())).map(|i| b'a' + (i % 26) as u8));
    v.truncate(n);
    v
}

pub const UPLOAD: &str = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) {
    uploadUrl maxBytes document { id } version { id number status } } }";

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|f| f).await
    }

    pub async fn spawn_with(configure: impl FnOnce(Figment) -> Figment) -> Self {
        let dir = std::env::temp_dir().join(format!("hub-content-{}", Uuid::new_v4()));
        let store_dir = dir.join("store");
        let store = store_dir.display().to_string();
        let app = testkit::App::<Content>::spawn_with(move |f| {
            configure(
                f.merge(("content.store.dir", store))
                    .merge(("content.sweep_interval_secs", 0)),
            )
        })
        .await;
        TestApp {
            app,
            store_dir,
            _dir: tempdir::Dir(dir),
        }
    }

    pub fn token(&self, who: Who, roles: &[Role], verticals: &[Vertical]) -> String {
        self.app.kit.token(&Caller::user(who.org, who.user, roles, verticals))
    }

    /// `select count(*)` of `sql` with the row policies alone, as `who` with `roles`
    /// in both verticals.
    pub async fn count_as(&self, who: Who, roles: &str, sql: &str) -> i64 {
        testkit::tenancy::count_scoped(
            &self.admin,
            &self.settings.database.role,
            who.org,
            who.user,
            roles,
            "medical,public",
            sql,
        )
        .await
    }

    pub fn medical(&self, who: Who, role: Role) -> String {
        self.token(who, &[role], &[Vertical::Medical])
    }

    pub fn public(&self, who: Who, role: Role) -> String {
        self.token(who, &[role], &[Vertical::Public])
    }

    pub async fn gql(&self, query: &str, vars: Value, token: &str) -> Value {
        self.app.kit.gql(query, vars, Some(token)).await
    }

    pub async fn ok(&self, query: &str, vars: Value, token: &str) -> Value {
        let r = self.gql(query, vars, token).await;
        assert!(r["errors"].is_null(), "unexpected errors: {r}");
        r["data"].clone()
    }

    /// Signed URLs name the configured public URL; tests reach the app on its own port.
    pub fn local(&self, url: &str) -> String {
        let base = self.app.kit.url.trim_end_matches("/graphql");
        url.replacen(&self.state.content.public_url, base, 1)
    }

    /// A new document with its upload URL: (document id, upload URL).
    pub async fn create(
        &self,
        token: &str,
        owner: (&str, Uuid),
        classification: &str,
        content_type: &str,
        size: usize,
    ) -> (String, String) {
        let d = self
            .ok(
                UPLOAD,
                json!({ "i": { "ownerType": owner.0, "ownerId": owner.1, "title": format!("{classification} report"),
                               "classification": classification, "contentType": content_type, "byteSize": size } }),
                token,
            )
            .await;
        let up = &d["createDocument"];
        (
            up["document"]["id"].as_str().expect("id").to_string(),
            self.local(up["uploadUrl"].as_str().expect("url")),
        )
    }

    pub async fn put(&self, url: &str, bytes: Vec<u8>, content_type: &str) -> (u16, Value) {
        let r = self
            .app
            .kit
            .http
            .put(url)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("PUT");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A document with one available version of `bytes`: its id.
    pub async fn uploaded(&self, token: &str, owner: (&str, Uuid), classification: &str, bytes: Vec<u8>) -> String {
        let (id, url) = self
            .create(token, owner, classification, "application/pdf", bytes.len())
            .await;
        let (status, body) = self.put(&url, bytes, "application/pdf").await;
        assert_eq!(status, 201, "upload: {body}");
        id
    }

    /// The document's versions as the caller sees them.
    pub async fn versions(&self, token: &str, id: &str) -> Value {
        self.ok(
            "query($id: ID!) { document(id: $id) { currentVersion { number sha256 }
               versions { number status byteSize sha256 contentType restoredFrom rejectionReason downloadUrl } } }",
            json!({ "id": id }),
            token,
        )
        .await["document"]
            .clone()
    }

    /// Every file the local store holds (multipart staging files included).
    pub fn stored_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
        let mut out = vec![];
        walk(&self.store_dir, &mut out);
        out
    }

    /// Documents of owners through `_entities`, as the router asks for them.
    pub async fn owner_documents(&self, token: &str, representations: Value) -> Value {
        self.ok(
            "query($r: [_Any!]!) { _entities(representations: $r) {
               ... on Patient { documents { nodes { title classification } } }
               ... on Tender { documents { nodes { title classification } } }
               ... on Contract { documents { nodes { title classification } } }
               ... on Supplier { documents { nodes { title classification } } } } }",
            json!({ "r": representations }),
            token,
        )
        .await["_entities"]
            .clone()
    }
}

pub use platform::crypto::sha256_hex_bytes as sha256_hex;
