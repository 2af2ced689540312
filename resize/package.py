"""``python -m resize package``: the Lambda zip, and how to deploy it.

The zip holds the handler's modules (``resize/`` without the batch tool) and the Linux wheels
of Pillow for the Lambda's Python, unpacked, as Lambda wants them. botocore is not packed: the
Lambda Python runtime ships it, and the handler uses only its stable S3 calls. Pillow is
pinned to the version installed here, the one the tests ran against.

The wheels come from the package index through ``pip download`` for the target platform
(``manylinux2014`` and ``manylinux_2_28``: recent Pillow publishes only the latter, which the
Amazon Linux 2023 behind the ``python3.12`` runtime satisfies), kept in a cache folder so that
a second build needs no download.

The zip holds no pillow-heif: the app stores HEIC/HEIF and AVIF originals as JPEG, so the
Lambda only ever reads JPEG, PNG, GIF and WebP. ``LAMBDA_RUNTIME`` and ``LAMBDA_ARCHITECTURE``
are what the zip is built for by default; docs/deploy.md names the same (a test checks).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

HANDLER_MODULES = (
    "__init__.py",
    "animation.py",
    "avatars.py",
    "core.py",
    "errors.py",
    "keys.py",
    "sizes.py",
    "s3.py",
    "lambda_handler.py",
    "pixels.py",
)
HANDLER = "resize.lambda_handler.handler"
LAMBDA_RUNTIME = "python3.12"
"""The Lambda runtime the zip's Pillow wheels are built for: a function on another Python
cannot import PIL's compiled modules."""
LAMBDA_ARCHITECTURE = "x86_64"
"""The Lambda architecture the wheels are built for (``--architectures`` of the function)."""
LAMBDA_PYTHON = LAMBDA_RUNTIME.removeprefix("python")
PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
}
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "sns-resize-wheels"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
"""Every entry gets this time, so that the same inputs give the same zip."""


class PackageError(RuntimeError):
    pass


def requirements() -> list[str]:
    return [f"pillow=={metadata.version('pillow')}"]


def download_wheels(
    cache: Path, python_version: str, architecture: str, quiet: bool = True
) -> list[Path]:
    """The wheels of the requirements for Lambda's Linux, from the cache or the index."""
    cache.mkdir(parents=True, exist_ok=True)
    platforms = [flag for name in PLATFORMS[architecture] for flag in ("--platform", name)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        *platforms,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--dest",
        str(cache),
        *(["--quiet"] if quiet else []),
        *requirements(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise PackageError(f"pip download failed:\n{done.stderr.strip() or done.stdout.strip()}")
    tag = f"cp{python_version.replace('.', '')}"
    arch = "x86_64" if architecture == "x86_64" else "aarch64"
    wheels = []
    for requirement in requirements():
        project, _, version = requirement.partition("==")
        found = sorted(
            path
            for path in cache.glob(f"{project}-{version}-*.whl")
            if f"-{tag}-" in path.name and path.name.endswith(f"{arch}.whl")
        )
        if not found:
            raise PackageError(f"no {tag} {arch} wheel of {requirement} in {cache}")
        wheels.append(found[-1])
    return wheels


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(entry, data)


def build(
    output: Path,
    *,
    cache: Path = DEFAULT_CACHE,
    python_version: str = LAMBDA_PYTHON,
    architecture: str = LAMBDA_ARCHITECTURE,
) -> Path:
    """Write the Lambda zip to ``output`` and return it."""
    wheels = download_wheels(cache, python_version, architecture)
    package_dir = Path(__file__).resolve().parent
    entries: dict[str, tuple[bytes, bool]] = {}
    for module in HANDLER_MODULES:
        entries[f"resize/{module}"] = ((package_dir / module).read_bytes(), False)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as unpacked:
            for info in unpacked.infolist():
                if info.is_dir() or info.filename.endswith("/RECORD"):
                    continue
                shared = ".so" in info.filename.rsplit("/", 1)[-1]
                entries[info.filename] = (unpacked.read(info), shared)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".part")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in sorted(entries):
            data, executable = entries[name]
            _add(archive, name, data, executable)
    temporary.replace(output)
    return output


def instructions(
    zip_path: Path,
    bucket: str,
    function: str,
    architecture: str = LAMBDA_ARCHITECTURE,
    python_version: str = LAMBDA_PYTHON,
) -> str:
    """The AWS CLI commands that deploy the zip and wire the trigger on ``original/`` and
    ``avatar/original/``."""
    zip_uri = f"fileb://{zip_path}"
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    )
    access = (
        '{"Version":"2012-10-17","Statement":['
        f'{{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::{bucket}/original/*",'
        f'"arn:aws:s3:::{bucket}/avatar/original/*"]}},'
        f'{{"Effect":"Allow","Action":"s3:PutObject","Resource":["arn:aws:s3:::{bucket}/thumb/*",'
        f'"arn:aws:s3:::{bucket}/avatar/*"]}}]}}'
    )
    notification = (
        '{"LambdaFunctionConfigurations":[{"Id":"sns-thumbnails",'
        f'"LambdaFunctionArn":"arn:aws:lambda:REGION:ACCOUNT:function:{function}",'
        '"Events":["s3:ObjectCreated:*"],'
        '"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"original/"}]}}},'
        '{"Id":"sns-avatars",'
        f'"LambdaFunctionArn":"arn:aws:lambda:REGION:ACCOUNT:function:{function}",'
        '"Events":["s3:ObjectCreated:*"],'
        '"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"avatar/original/"}]}}}]}'
    )
    environment = '{"Variables":{"SNS_THUMB_SIZES":"200,1080","SNS_IMAGE_MAX_PIXELS":"50000000"}}'
    return f"""\
Deploy with the AWS CLI (replace REGION and ACCOUNT; the sizes must match the app's
SNS_THUMB_SIZES):

1. A role for the function: logs, read original/ and avatar/original/, write thumb/ and
   avatar/ (no ACL permission needed):
   aws iam create-role --role-name {function} --assume-role-policy-document '{trust}'
   aws iam attach-role-policy --role-name {function} \\
     --policy-arn arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
   aws iam put-role-policy --role-name {function} --policy-name {function}-s3 \\
     --policy-document '{access}'

2. The function (Python {python_version}, {architecture}; botocore comes with the runtime):
   aws lambda create-function --function-name {function} --runtime python{python_version} \\
     --architectures {architecture} --handler {HANDLER} \\
     --zip-file {zip_uri} --role arn:aws:iam::ACCOUNT:role/{function} \\
     --memory-size 1024 --timeout 60 --environment '{environment}'
   Later versions: aws lambda update-function-code --function-name {function} \\
     --zip-file {zip_uri}

3. Let S3 invoke it, for this bucket only:
   aws lambda add-permission --function-name {function} --statement-id s3-original \\
     --action lambda:InvokeFunction --principal s3.amazonaws.com \\
     --source-arn arn:aws:s3:::{bucket} --source-account ACCOUNT

4. The trigger, on original/ and avatar/original/ only (thumb/ and avatar/<size>/ never
   trigger it; the handler ignores other keys anyway). This replaces the bucket's
   notification configuration: merge by hand if it has one.
   aws s3api put-bucket-notification-configuration --bucket {bucket} \\
     --notification-configuration '{notification}'

5. Run the app with SNS_RESIZE=lambda. Thumbnails of pictures stored before (or lost to an
   outage) are made by: python -m resize s3://{bucket}
"""


def package_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resize package",
        description="Build the Lambda zip (handler + Linux wheels of Pillow) and print how to "
        "deploy it and wire the S3 trigger on original/.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("dist/sns-resize-lambda.zip"),
        help="where to write the zip (default: %(default)s)",
    )
    parser.add_argument(
        "--python-version", default=LAMBDA_PYTHON, help="Lambda's Python (%(default)s)"
    )
    parser.add_argument("--architecture", choices=sorted(PLATFORMS), default=LAMBDA_ARCHITECTURE)
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="wheel cache (%(default)s)"
    )
    parser.add_argument("--bucket", default="BUCKET", help="bucket name for the printed commands")
    parser.add_argument("--function-name", default="sns-resize", help="the Lambda's name")
    args = parser.parse_args(argv)
    try:
        output = build(
            args.output,
            cache=args.cache,
            python_version=args.python_version,
            architecture=args.architecture,
        )
    except PackageError as error:
        print(f"python -m resize package: {error}", file=sys.stderr)
        return 1
    size = output.stat().st_size / 1024 / 1024
    print(f"Built {output} ({size:.1f} MiB): handler {HANDLER}, {', '.join(requirements())}")
    print(f"for Python {args.python_version} on Linux {args.architecture}.\n")
    print(
        instructions(
            output, args.bucket, args.function_name, args.architecture, args.python_version
        )
    )
    return 0
