"""The baseline of bench/http.py: a minimal Tornado hello-world handler.

Whatever SNS does per request is measured against this in the same run, on the same cores,
with the same wrk options. ``--processes N`` forks N workers, each with its own
``SO_REUSEPORT`` listener, as ``run.py --processes N`` does, so the per-core ratio compares
like with like. The parent stops its workers by PID on SIGTERM or SIGINT.

    .venv/bin/python bench/hello.py --port 8999 --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web


class HelloHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


def serve(port: int) -> None:
    """One worker: its own listener on the shared port, until killed."""

    async def main() -> None:
        app = tornado.web.Application([(r"/", HelloHandler)])
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(tornado.netutil.bind_sockets(port, "127.0.0.1", reuse_port=True))
        await asyncio.Event().wait()

    asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1, help="0: one per core")
    args = parser.parse_args()
    count = args.processes or os.cpu_count() or 1
    if count == 1:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            serve(args.port)
        except KeyboardInterrupt:
            pass
        return 0
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            serve(args.port)
            os._exit(0)
        children.append(pid)

    def stop(*_: object) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
