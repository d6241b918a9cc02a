#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A delay line for the detector lab (no netem on the test kernel): a TCP
forwarder that holds every chunk for DELAY_MS in each direction before
passing it on. Usage: delayline.py LISTEN_ADDR LISTEN_PORT TO_ADDR TO_PORT DELAY_MS"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            # each chunk leaves delay after it arrived, order kept
            due = loop.time() + delay
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    laddr, lport, taddr, tport, delay_ms = sys.argv[1:6]
    delay = int(delay_ms) / 1000.0

    async def handle(cr, cw):
        await asyncio.sleep(delay)  # the client's SYN, delayed too
        try:
            ur, uw = await asyncio.open_connection(taddr, int(tport))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw, delay), pipe(ur, cw, delay))

    server = await asyncio.start_server(handle, laddr, int(lport))
    async with server:
        await server.serve_forever()


asyncio.run(main())
