//! What the edge policy costs per request: `cargo bench -p edge`.
//! Prints nanoseconds per operation for token verification, operation
//! limits and the persisted-query decision (release build, one core).

use std::{hint::black_box, sync::Arc, time::Instant};

use edge::{
    limits::OperationLimits,
    persisted::{decide, ManifestStore, PqRequest},
};
use platform_base::{jwt::JwtVerifier, kv::Kv, Claims, Role};

const QUERY: &str = "query MySchedule($from: DateTime!, $to: DateTime!) { me { id displayName schedule(from: $from, to: $to) { id startsAt endsAt status patient { givenName familyName allergies { substance } } } } }";

fn report(name: &str, iterations: u32, f: impl Fn()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let ns = started.elapsed().as_nanos() / iterations as u128;
    println!("{name:<40} {ns:>8} ns/op ({iterations} iterations)");
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let keys = platform_base::keys::KeyRing::from_pems(&[platform_base::keys::generate_ed25519_pem().expect("key")])
        .expect("keys");
    let now = chrono::Utc::now().timestamp();
    let token = keys
        .sign(&Claims {
            iss: "bench".into(),
            aud: "hub".into(),
            sub: uuid::Uuid::new_v4().to_string(),
            org: uuid::Uuid::new_v4(),
            roles: vec![Role::Practitioner],
            verticals: vec![],
            sid: None,
            jti: uuid::Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + 3600,
            amr: vec![],
            client: None,
            scopes: vec![],
        })
        .expect("token");
    let verifier: Arc<JwtVerifier> = JwtVerifier::with_static_keys("bench", "hub", 0, keys.jwks(), Kv::disabled());
    report("verify an EdDSA access token", 5_000, || {
        rt.block_on(async { black_box(verifier.verify(black_box(&token)).await.expect("valid")) });
    });

    let limits = OperationLimits::default();
    report("operation limits (parse + measure)", 20_000, || {
        black_box(limits.check(black_box(QUERY), None)).expect("within limits");
    });

    let id = platform_base::digest::sha256_hex(QUERY);
    let path = std::env::temp_dir().join(format!("bench-pq-{}.json", std::process::id()));
    let manifest = serde_json::json!({ "format": "apollo-persisted-query-manifest", "version": 1,
        "operations": [{ "id": id, "name": "MySchedule", "type": "query", "body": QUERY }] });
    std::fs::write(&path, manifest.to_string()).expect("manifest");
    let store = ManifestStore::load(&path).expect("store");
    report("persisted query lookup by id", 200_000, || {
        black_box(decide(
            &store,
            &PqRequest {
                id: Some(black_box(&id)),
                query: None,
            },
            true,
            false,
        ))
        .expect("found");
    });
    let _ = std::fs::remove_file(path);
}
