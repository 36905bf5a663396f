#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::kit::run::<identity::Identity>().await
}
