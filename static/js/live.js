// Live updates (#20): one WebSocket to /live while a logged-in page is open. It shows the
// unread count in the header and a "N new posts" button over the timeline; every page
// works without this file, and without WebSocket (the count is drawn on each page load).
"use strict";

const REPLACED = 4001; // this person opened too many live pages: this one gives way
const RETRY_FIRST = 1000; // ms before the first try again; doubled each time, at most
const RETRY_MAX = 30000;

const live = {
  socket: null,
  tries: 0,
  timer: null,
  box: null, // the "new posts" box over the timeline, when the page shows one
  // New posts counted by sockets that have since dropped, and by the open one: the server
  // counts per socket, the page since it drew its timeline.
  postsBefore: 0,
  posts: 0,
};

function liveUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  const box = live.box;
  if (box) {
    query.set("timeline", box.dataset.liveTimeline);
    if (box.dataset.liveTag) query.set("tag", box.dataset.liveTag);
    const after = Number(box.dataset.liveAfter);
    if (after > 0) query.set("after", String(after)); // the newest post the page shows
  }
  // The count the header shows: the server answers at once if it moved meanwhile.
  const badge = document.getElementById("unread-count");
  if (badge) query.set("unread", badge.dataset.count || "0");
  const search = query.toString();
  return `${scheme}//${location.host}/live${search ? `?${search}` : ""}`;
}

function connectLive() {
  live.timer = null;
  let socket;
  try {
    socket = new WebSocket(liveUrl());
  } catch (error) {
    retryLive();
    return;
  }
  live.socket = socket;
  socket.addEventListener("open", () => {
    live.tries = 0;
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.type === "unread") showUnread(Number(message.count) || 0);
    else if (message.type === "posts") {
      live.posts = Number(message.count) || 0;
      showNewPosts(live.postsBefore + live.posts);
    }
  });
  socket.addEventListener("close", (event) => {
    if (live.socket !== socket) return; // one we closed on purpose
    live.socket = null;
    live.postsBefore += live.posts;
    live.posts = 0;
    if (event.code !== REPLACED) retryLive();
  });
}

// Exponential back-off with jitter: a restarted server is not met by every page at once.
function retryLive() {
  if (live.timer !== null) return;
  const ceiling = Math.min(RETRY_MAX, RETRY_FIRST * 2 ** live.tries);
  live.tries += 1;
  live.timer = setTimeout(connectLive, ceiling / 2 + (Math.random() * ceiling) / 2);
}

function reconnectLive() {
  const socket = live.socket;
  live.socket = null;
  if (socket) socket.close(1000);
  if (live.timer !== null) clearTimeout(live.timer);
  live.tries = 0;
  live.postsBefore = 0;
  live.posts = 0;
  connectLive();
}

// The header's unread count (drawn by the page; nothing to do when it is absent).
function showUnread(count) {
  const badge = document.getElementById("unread-count");
  if (badge) {
    badge.textContent = String(count);
    badge.dataset.count = String(count);
    badge.hidden = count === 0;
  }
  const link = document.getElementById("notifications-link");
  const template = link?.dataset.labelTemplate;
  if (template) link.setAttribute("aria-label", template.replace("{n}", String(count)));
}

function showNewPosts(count) {
  const box = live.box;
  if (!box) return;
  const button = box.querySelector("button");
  // English says "1 new post" but "2 new posts": the page gives both forms.
  const template = count === 1 ? box.dataset.labelOne : box.dataset.labelTemplate;
  button.textContent = template.replace("{n}", String(count));
  button.hidden = count === 0;
}

// Draw the timeline afresh from the server (the same URL) in place of the one shown.
async function loadNewPosts() {
  const box = live.box;
  const button = box.querySelector("button");
  button.disabled = true;
  try {
    const answer = await fetch(location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!answer.ok) throw new Error(String(answer.status));
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const fresh = page.querySelector("section.timeline");
    const shown = document.querySelector("section.timeline");
    if (!fresh || !shown) throw new Error("no timeline");
    shown.replaceWith(fresh);
    const freshPager = page.querySelector("nav.pager");
    const pager = document.querySelector("nav.pager");
    if (pager && freshPager) pager.replaceWith(freshPager);
    const freshBox = page.querySelector("[data-live-timeline]");
    box.dataset.liveAfter = freshBox?.dataset.liveAfter || box.dataset.liveAfter;
    button.hidden = true;
    fresh.focus();
    reconnectLive(); // counting starts again after the newest post now shown
  } catch (error) {
    location.reload(); // the plain way still works
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (!("WebSocket" in window)) return;
  live.box = document.querySelector("[data-live-timeline]");
  live.box?.querySelector("button").addEventListener("click", loadNewPosts);
  connectLive();
});
