platform::subgraph_main!(public::Public);
