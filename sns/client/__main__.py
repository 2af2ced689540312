"""``python -m sns.client demo``: serve the example third-party site against a running SNS.

    python -m sns.client demo --sns http://localhost:8001 --secret <client secret>

Register the demo's host (``localhost:4000`` by default) on /developers first; the secret
can also come from ``SNS_CLIENT_SECRET``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sns.client.demo import serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sns.client", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="serve the example third-party site")
    demo.add_argument("--sns", default="http://localhost:8001", help="the SNS to call")
    demo.add_argument("--secret", default=os.environ.get("SNS_CLIENT_SECRET", ""))
    demo.add_argument("--host", default="localhost", help="address to listen on")
    demo.add_argument("--port", type=int, default=4000, help="port to listen on (0: any)")
    demo.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("give the site's client secret: --secret or SNS_CLIENT_SECRET")
    try:
        serve(args.sns, args.secret, args.host, args.port, verbose=args.verbose)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
