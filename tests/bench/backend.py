#!/usr/bin/env python3
"""tests/bench/backend.py: the plain-HTTP backend behind stunnel in `make bench`.

   backend.py PORT

Listens on 127.0.0.1:PORT only; for each connection reads up to the end of the request
head (bounded at 8 KiB, 5 s), answers "200 OK" with a two-byte body and closes.
Runs until it is killed (run.sh stops it by PID)."""
import asyncio
import sys

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


async def handle(reader, writer):
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        writer.write(RESPONSE)
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
            ConnectionError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, limit=8192, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: backend.py PORT")
    asyncio.run(main(int(sys.argv[1])))
