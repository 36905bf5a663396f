platform::subgraph_main!(content::Content);
