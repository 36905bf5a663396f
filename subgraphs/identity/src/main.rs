platform::subgraph_main!(identity::Identity);
