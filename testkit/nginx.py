"""A private nginx on loopback in front of several SNS nodes (round robin)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess

from testkit.base import HOST, Service, free_port, tail
from testkit.install import find_nginx

NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    upstream sns {{
{servers}
        keepalive 16;
    }}
    server {{
        listen {host}:{port};
        client_max_body_size 1m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        add_header X-Upstream $upstream_addr always;
        location / {{
            proxy_pass http://sns;
        }}
        # As deploy/nginx-sns.conf: picture uploads up to SNS_IMAGE_MAX_BYTES (20 MiB).
        location ~ ^/(post/img|account/avatar|v2/posts/img)$ {{
            client_max_body_size 21m;
            proxy_pass http://sns;
        }}
    }}
}}
"""


class NginxServer(Service):
    """A private nginx on 127.0.0.1 balancing over the given upstream ports (round robin);
    every answer names its upstream in ``X-Upstream``."""

    def __init__(self, base_dir: pathlib.Path, upstreams: list[int]) -> None:
        self.base_dir = pathlib.Path(base_dir)
        self.upstreams = upstreams
        self.port = 0
        self.url = ""
        self.proc = None

    def start(self) -> None:
        nginx = find_nginx()
        if nginx is None:
            raise RuntimeError("nginx is not installed (python -m testkit --ensure)")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        servers = "\n".join(f"        server {HOST}:{port};" for port in self.upstreams)
        conf = self.base_dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user="user root;" if os.geteuid() == 0 else "",  # its temp dirs are ours
                base=self.base_dir,
                servers=servers,
                host=HOST,
                port=self.port,
            )
        )
        self.proc = subprocess.Popen(
            [nginx, "-p", str(self.base_dir), "-c", str(conf), "-e", str(self.base_dir / "e.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

        def not_listening() -> str | None:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
            except OSError as exc:
                return str(exc)
            return None

        self.wait_until_ready(
            "nginx", not_listening, 20.0, lambda: tail(self.base_dir / "error.log")
        )
        self.url = f"http://{HOST}:{self.port}"
