"""An OTLP/HTTP receiver for the tracing test: oteltap listens on the given
port and every span it receives is printed to stdout as one JSON line
(trace and span ids in hex, the parent's, the name and the attributes),
which the test reads. `ready` is printed once it listens."""

import asyncio
import json
import sys

from google.protobuf.json_format import MessageToDict
from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings


def attributes(span):
    out = {}
    for kv in span.attributes:
        value = MessageToDict(kv.value)
        out[kv.key] = next(iter(value.values()), None) if value else None
    return out


async def main(port: int) -> None:
    settings = OtelTapHttpProtobufReceiverSettings(http_port=port)
    async with OtelTapHttpProtobufReceiver(settings) as receiver:
        print("ready", flush=True)
        async for span in receiver.stream_traces():
            line = {
                "trace_id": span.trace_id.hex(),
                "span_id": span.span_id.hex(),
                "parent_span_id": span.parent_span_id.hex(),
                "name": span.name,
                "kind": span.kind,
                "attributes": attributes(span),
                "events": [{"name": e.name, "attributes": attributes(e)} for e in span.events],
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
