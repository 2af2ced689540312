"""An example third-party site, like NodeBird's companion app: ``python -m sns.client demo``.

It serves a few pages from its own address (by default http://localhost:4000, the host to
register on /developers):

- ``/``: the site owner's posts, fetched by this server with ``SNSClient``;
- ``/search?hashtag=x``: posts carrying #x;
- ``/browser``: a page whose JavaScript asks the SNS API itself, across origins; it works
  only when this site's host is registered, since the API allows the origins of
  registered sites alone (CORS).

Standard library only (besides the client), so that it shows the API and nothing else.
The browser page hands the client secret to the browser, as NodeBird's example does; a
real site would buy the token on its server and give the page only the token.
"""

from __future__ import annotations

import html
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sns.client import PostPage, SNSClient, SNSError

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:1rem auto;padding:0 1rem;"
    "line-height:1.5}li{margin:.4rem 0}.meta{color:#555;font-size:.9rem}"
    "nav a{margin-right:1rem}"
)

SCRIPT = """\
"use strict";
// Runs in the visitor's browser: the requests go from this site's origin to SNS.
async function askSns() {
  const root = document.getElementById("sns-api");
  const out = document.getElementById("result");
  const base = root.dataset.sns;
  try {
    const tokenAnswer = await fetch(base + "/v2/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ clientSecret: root.dataset.secret }),
    });
    const tokenBody = await tokenAnswer.json();
    if (!tokenAnswer.ok) throw new Error(tokenBody.message);
    const postsAnswer = await fetch(base + "/v2/posts/my", {
      headers: { Authorization: tokenBody.token },
    });
    const postsBody = await postsAnswer.json();
    if (!postsAnswer.ok) throw new Error(postsBody.message);
    const list = document.createElement("ul");
    for (const post of postsBody.payload) {
      const item = document.createElement("li");
      item.className = "post";
      item.textContent = post.content;
      list.append(item);
    }
    out.replaceChildren(list);
    out.dataset.state = "ok";
    out.dataset.count = String(postsBody.payload.length);
  } catch (error) {
    out.textContent = "The browser could not read SNS's answer: " + error;
    out.dataset.state = "blocked";
  }
}
document.addEventListener("DOMContentLoaded", askSns);
"""


def page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        "<nav><a href='/'>My posts</a><a href='/search'>Search</a>"
        "<a href='/browser'>From the browser</a></nav>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    ).encode()


def post_list(posts: PostPage) -> str:
    if not posts.posts:
        return "<p>No posts.</p>"
    items = "".join(
        f"<li class='post'>{html.escape(post.content)}<br><span class='meta'>"
        f"{html.escape(post.user.nick)} · ♥ {post.like_count} · "
        f"{post.created_at:%Y-%m-%d %H:%M} UTC</span></li>"
        for post in posts
    )
    return f"<ul>{items}</ul>"


class DemoSite(ThreadingHTTPServer):
    """The example site's server: one SNS client shared by every request."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], sns_url: str, client_secret: str, *, verbose: bool = False
    ) -> None:
        super().__init__(address, DemoHandler)
        self.verbose = verbose
        self.sns_url = sns_url.rstrip("/")
        self.client_secret = client_secret
        self.sns = SNSClient(sns_url, client_secret)


class DemoHandler(BaseHTTPRequestHandler):
    server: DemoSite

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/":
                self.send(200, page("My posts on SNS", post_list(self.server.sns.my_posts())))
            elif url.path == "/search":
                self.search(query.get("hashtag", [""])[0].strip())
            elif url.path == "/browser":
                self.browser_page()
            elif url.path == "/demo.js":
                self.send(200, SCRIPT.encode(), "text/javascript; charset=utf-8")
            else:
                self.send(404, page("Not found", "<p>There is no such page here.</p>"))
        except SNSError as error:
            self.send(502, page("SNS said no", f"<p>{html.escape(str(error))}</p>"))

    def search(self, hashtag: str) -> None:
        form = (
            "<form action='/search'><label>Hashtag <input name='hashtag' "
            f"value='{html.escape(hashtag, quote=True)}'></label> <button>Search</button></form>"
        )
        if not hashtag:
            self.send(200, page("Search by hashtag", form))
            return
        try:
            found = post_list(self.server.sns.posts_by_hashtag(hashtag))
        except SNSError as error:
            if error.status != 404:
                raise
            found = "<p>No post has used this hashtag.</p>"
        self.send(200, page(f"#{hashtag.lstrip('#')}", form + found))

    def browser_page(self) -> None:
        data = {"sns": self.server.sns_url, "secret": self.server.client_secret}
        attributes = " ".join(
            f"data-{name}='{html.escape(value, quote=True)}'" for name, value in data.items()
        )
        body = (
            f"<div id='sns-api' {attributes}></div>"
            "<p>This page's script asks SNS for my posts straight from the browser.</p>"
            "<div id='result' aria-live='polite'>Asking SNS…</div>"
            "<script src='/demo.js'></script>"
        )
        self.send(200, page("My posts, fetched by the browser", body))

    def send(
        self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request only with ``--verbose`` (see ``__main__``)."""
        if self.server.verbose:
            super().log_message(format, *args)


def serve(sns_url: str, client_secret: str, host: str, port: int, *, verbose: bool) -> None:
    site = DemoSite((host, port), sns_url, client_secret, verbose=verbose)
    print(
        json.dumps({"demo": f"http://{host}:{site.server_address[1]}", "sns": sns_url}),
        flush=True,
    )
    try:
        site.serve_forever()
    finally:
        site.sns.close()
        site.server_close()
