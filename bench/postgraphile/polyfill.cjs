// PostGraphile 5 calls Promise.withResolvers, which Node 20 lacks (Node 22
// has it). Without it every connection query fails with "Cannot read
// properties of undefined (reading 'items')". Loaded with `node -r`.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
