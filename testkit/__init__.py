"""The test kit: real servers on loopback for the tests and the benchmarks.

MariaDB (``testkit.mariadb``), Redis (``testkit.redis``), nginx (``testkit.nginx``), an S3
API on moto (``testkit.s3``), a fake Kakao OAuth provider (``testkit.kakao``) and ``run.py``
itself with a browser-like client (``testkit.sns``). Each listens on a free loopback port,
lives in a directory of its own and is stopped by the handle that started it, so two pytest
workers, or a test run and a benchmark, never meet. tests/ and bench/ import it; the app
(sns/, handlers/, resize/) never does (tests/test_layers.py).
"""
