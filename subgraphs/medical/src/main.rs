#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::kit::run::<medical::Medical>().await
}
