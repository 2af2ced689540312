"""``python -m resize SOURCE`` makes missing thumbnails; ``python -m resize package`` builds
the Lambda zip. Run with ``--help`` for the options."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from resize import core
from resize.batch import SourceError, open_store, report, run
from resize.keys import ConfigError, env_max_pixels, env_sizes, parse_pixels, parse_sizes
from resize.s3 import S3Options

EPILOG = """\
examples:
  python -m resize data/images                     the app's local folder
  python -m resize ~/Pictures/trip                 any folder: ~/Pictures/trip/thumb/<size>/
  python -m resize s3://my-bucket --jobs 8         a bucket (credentials: the AWS chain)
  python -m resize s3://my-bucket/original/2026 --force --sizes 200,1080
  python -m resize package                         build the Lambda zip and show how to deploy it
"""


def batch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resize",
        description="Make the thumbnails that are missing (thumb/<size>/<name> for every "
        "original/<name>, and avatar/<size>/<name> for every avatar/original/<name>) in a "
        "local image folder, an S3 bucket or a plain folder of pictures, on every core.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source",
        help="a folder holding original/ (e.g. data/images), s3://bucket[/root], or any folder "
        "of pictures (thumbnails go to <folder>/thumb/<size>/)",
    )
    parser.add_argument(
        "--sizes",
        help="long sides, comma-separated (default: $SNS_THUMB_SIZES, else 200,1080)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of cores, %(default)s here)",
    )
    parser.add_argument("--force", action="store_true", help="remake thumbnails that exist already")
    parser.add_argument(
        "--max-pixels",
        help="refuse pictures with more pixels (default: $SNS_IMAGE_MAX_PIXELS, else 50000000)",
    )
    parser.add_argument(
        "--endpoint-url", help="S3-compatible endpoint (default: $SNS_S3_ENDPOINT_URL)"
    )
    parser.add_argument("--region", help="the bucket's region (default: $SNS_S3_REGION)")
    parser.add_argument(
        "--path-style",
        action="store_true",
        help="address the bucket as <endpoint>/<bucket> (default: $SNS_S3_PATH_STYLE)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", action="store_true", help="always show the progress bar")
    progress.add_argument("--quiet", action="store_true", help="never show the progress bar")
    return parser


def batch_main(argv: Sequence[str]) -> int:
    parser = batch_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        sizes = parse_sizes(args.sizes, "--sizes") if args.sizes else env_sizes()
        max_pixels = (
            parse_pixels(args.max_pixels, "--max-pixels")
            if args.max_pixels
            else env_max_pixels(default=core.DEFAULT_MAX_PIXELS)
        )
        from_env = S3Options.from_env()
        options = S3Options(
            endpoint_url=args.endpoint_url or from_env.endpoint_url,
            region=args.region or from_env.region,
            path_style=args.path_style or from_env.path_style,
        )
        store = open_store(args.source, options)
    except (ConfigError, SourceError) as error:
        parser.error(str(error))
    try:
        summary = run(
            store,
            sizes,
            jobs=args.jobs,
            force=args.force,
            max_pixels=max_pixels,
            progress=True if args.progress else False if args.quiet else None,
        )
    except SourceError as error:
        print(f"python -m resize: {error}", file=sys.stderr)
        return 2
    return report(summary, store)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["package"]:
        from resize.package import package_main

        return package_main(arguments[1:])
    return batch_main(arguments)


if __name__ == "__main__":
    sys.exit(main())
