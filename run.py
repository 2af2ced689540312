"""Start SNS: ``python run.py [--port N] [--data-dir DIR]``; ``--help`` lists every setting."""

import sys

from handlers.server import main

if __name__ == "__main__":
    sys.exit(main())
