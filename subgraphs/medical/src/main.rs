platform::subgraph_main!(medical::Medical);
