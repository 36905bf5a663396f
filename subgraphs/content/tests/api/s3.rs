//! The same flow on an S3-compatible store: a real moto server process
//! (`moto_server`, PyPI; `hub test` installs it), multipart upload included.

use std::{process::Stdio, time::Duration};

use platform::Role::*;
use uuid::Uuid;

use crate::helpers::*;

pub struct S3Server {
    pub endpoint: String,
    child: std::process::Child,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` from `HUB_MOTO_SERVER`, or the venv `hub test` installs.
pub async fn start_s3(bucket: &str) -> S3Server {
    let bin = std::env::var("HUB_MOTO_SERVER").unwrap_or_else(|_| {
        format!(
            "{}/.cache/hub-s3-venv/bin/moto_server",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin} (pip install 'moto[server]'; `hub test` does): {e}"));
    // Owned at once, so the process is killed and reaped whatever happens next.
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        let created = http.put(format!("{}/{bucket}", server.endpoint)).send().await;
        if created.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto did not come up on {}", server.endpoint);
}

#[tokio::test]
async fn multipart_upload_and_ranged_download_on_an_s3_compatible_store() {
    let s3 = start_s3("hub-test").await;
    // The builder reads credentials from the environment, as in production.
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let endpoint = s3.endpoint.clone();
    let app = TestApp::spawn_with(move |f| {
        f.merge(("content.store.kind", "s3"))
            .merge(("content.store.bucket", "hub-test"))
            .merge(("content.store.region", "us-east-1"))
            .merge(("content.store.endpoint", endpoint))
            .merge(("content.store.allow_http", true))
    })
    .await;
    let doctor = app.medical(Who::new(), Practitioner);
    // 20 MiB: three parts of the multipart write.
    let bytes = pdf_of(20 * 1024 * 1024 + 123);
    let id = app
        .uploaded(&doctor, ("PATIENT", Uuid::new_v4()), "CLINICAL", bytes.clone())
        .await;
    let d = app.versions(&doctor, &id).await;
    assert_eq!(d["versions"][0]["sha256"], sha256_hex(&bytes));
    let url = app.local(d["versions"][0]["downloadUrl"].as_str().unwrap());
    let got = app.kit.http.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&bytes));
    let r = app
        .kit
        .http
        .get(&url)
        .header("range", "bytes=10485760-10485769")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[10_485_760..10_485_770]);

    // A refused upload aborts its multipart write: nothing lands in the bucket.
    let (_, put) = app
        .create(
            &doctor,
            ("PATIENT", Uuid::new_v4()),
            "CLINICAL",
            "application/pdf",
            1000,
        )
        .await;
    let (status, _) = app.put(&put, pdf_of(10 * 1024 * 1024), "application/pdf").await;
    assert_eq!(status, 413);
    let listing = app
        .kit
        .http
        .get(format!("{}/hub-test?list-type=2", s3.endpoint))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listing.matches("<Key>").count(), 1, "{listing}");
}
