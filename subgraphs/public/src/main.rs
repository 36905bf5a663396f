#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::kit::run::<public::Public>().await
}
