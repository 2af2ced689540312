// Small progressive enhancements; every page works without this file.
"use strict";

const xsrfToken = () => document.querySelector('meta[name="xsrf-token"]').content;

// A live character counter under the post box (140 code points, like the server counts).
function setUpCounters() {
  for (const counter of document.querySelectorAll(".counter[data-max]")) {
    const box = counter.closest("form").querySelector("textarea");
    const max = Number(counter.dataset.max);
    const update = () => {
      const used = Array.from(box.value.replace(/\r\n/g, "\n").trim()).length;
      counter.textContent = `${used} / ${max}`;
      counter.classList.toggle("over", used > max);
    };
    box.addEventListener("input", update);
    update();
  }
}

function showError(form, message) {
  let box = form.querySelector(".form-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "error form-error";
    box.setAttribute("role", "alert");
    form.append(box);
  }
  box.textContent = message;
}

function clearError(form) {
  form.querySelector(".form-error")?.remove();
}

// A person's face as the server draws it (handlers/ui.py `avatar`): their picture, or
// initials on their colour as SVG; built with DOM calls, never innerHTML.
function faceNode(nick, face) {
  const size = "24";
  if (face.url) {
    const img = document.createElement("img");
    img.className = "avatar";
    img.src = face.url;
    img.width = 24;
    img.height = 24;
    img.alt = nick;
    return img;
  }
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [name, value] of [["class", "avatar avatar-face"], ["width", size], ["height", size],
    ["viewBox", "0 0 100 100"], ["role", "img"], ["aria-label", nick]]) {
    svg.setAttribute(name, value);
  }
  const rect = document.createElementNS(ns, "rect");
  rect.setAttribute("width", "100");
  rect.setAttribute("height", "100");
  rect.setAttribute("fill", face.colour);
  const text = document.createElementNS(ns, "text");
  for (const [name, value] of [["x", "50"], ["y", "50"], ["dy", ".35em"], ["text-anchor", "middle"],
    ["fill", "#fff"], ["font-size", face.initials.length < 2 ? "44" : "36"],
    ["font-family", "sans-serif"], ["aria-hidden", "true"]]) {
    text.setAttribute(name, value);
  }
  text.textContent = face.initials;
  svg.append(rect, text);
  return svg;
}

// A comment's text with its mentions linked, from the pieces the server cut it into.
function commentText(comment) {
  const text = document.createElement("span");
  text.className = "comment-text";
  for (const piece of comment.pieces || [{ text: comment.content, handle: null }]) {
    if (piece.handle) {
      const link = document.createElement("a");
      link.className = "mention";
      link.href = `/@${encodeURIComponent(piece.handle)}`;
      link.textContent = piece.text;
      text.append(link);
    } else {
      text.append(piece.text);
    }
  }
  return text;
}

// The reply box the server draws under each comment, for a comment added without a
// reload; its words come from the comment form (data-reply-*), in the reader's language.
function replyBox(comment, commentForm) {
  const words = commentForm.dataset;
  const box = document.createElement("details");
  box.className = "reply-box";
  const summary = document.createElement("summary");
  summary.textContent = words.replyLabel;
  const form = document.createElement("form");
  form.className = "inline-form";
  form.method = "post";
  form.action = `/comment/reply/${comment.id}`;
  form.dataset.ajax = "reply";
  const xsrf = document.createElement("input");
  xsrf.type = "hidden";
  xsrf.name = "_xsrf";
  xsrf.value = xsrfToken();
  const next = document.createElement("input");
  next.type = "hidden";
  next.name = "next";
  next.value = commentForm.querySelector('input[name="next"]')?.value || window.location.pathname;
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = `reply-${comment.id}`;
  label.textContent = words.replyTo.replace("{nick}", comment.author_nick);
  const input = document.createElement("input");
  input.id = `reply-${comment.id}`;
  input.name = "content";
  input.maxLength = 140;
  input.required = true;
  input.placeholder = words.replyPlaceholder;
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = words.replyLabel;
  form.append(xsrf, next, label, input, button);
  box.append(summary, form);
  return box;
}

// A comment or reply as the server rendered it: built with textContent, never innerHTML.
function commentNode(comment, commentForm) {
  const item = document.createElement("li");
  item.className = comment.parent_id ? "comment reply" : "comment";
  item.id = `comment-${comment.id}`;
  const line = document.createElement("p");
  const author = document.createElement("a");
  author.className = "author";
  author.href = `/user/${comment.author_id}`;
  author.textContent = comment.author_nick;
  if (comment.author_avatar) {
    line.append(faceNode(comment.author_nick, comment.author_avatar), " ");
  }
  line.append(author, " ", commentText(comment));
  item.append(line);
  if (!comment.parent_id) {
    item.dataset.commentId = comment.id;
    const replies = document.createElement("ol");
    replies.className = "reply-list";
    item.append(replies);
    if (commentForm?.dataset.replyLabel) item.append(replyBox(comment, commentForm));
  }
  return item;
}

function setLike(form, state) {
  const button = form.querySelector(".like-button");
  form.action = `/post/${state.post_id}/${state.liked ? "unlike" : "like"}`;
  button.setAttribute("aria-pressed", String(state.liked));
  button.setAttribute("aria-label", state.liked ? button.dataset.unlikeLabel : button.dataset.likeLabel);
  button.querySelector(".heart").textContent = state.liked ? "♥" : "♡";
  button.querySelector(".like-count").textContent = state.like_count;
}

function setFollow(userId, following, myCounts) {
  for (const form of document.querySelectorAll(`form.follow-form[data-user-id="${userId}"]`)) {
    const button = form.querySelector("button");
    form.action = `/user/${userId}/${following ? "unfollow" : "follow"}`;
    button.setAttribute("aria-pressed", String(following));
    button.textContent = following ? button.dataset.unfollowLabel : button.dataset.followLabel;
    button.classList.toggle("secondary", following);
  }
  const mine = document.querySelector(".following-count");
  if (mine && myCounts) mine.textContent = myCounts.followings;
  const theirs = document.querySelector(".profile-follower-count");
  if (theirs && theirs.closest(".user-head")?.querySelector(`[data-user-id="${userId}"]`)) {
    theirs.textContent = Number(theirs.textContent) + (following ? 1 : -1);
  }
}

// After a block or mute from a post's menu: that person's posts leave the page, and a
// line says what happened (the server leaves them out of every later page).
function hideAuthor(form, payload) {
  for (const post of document.querySelectorAll(`article.post[data-author-id="${payload.user_id}"]`)) {
    post.remove();
  }
  const status = document.createElement("p");
  status.className = "notice";
  status.setAttribute("role", "status");
  status.textContent = form.dataset.done;
  (document.querySelector("main") || document.body).prepend(status);
}

const handlers = {
  block: hideAuthor,
  mute: hideAuthor,
  like: (form, payload) => setLike(form, payload),
  follow: (form, payload) => setFollow(payload.user_id, payload.following, payload.my_counts),
  comment: (form, payload) => {
    form.closest(".comments").querySelector(".comment-list").append(commentNode(payload, form));
    form.reset();
  },
  reply: (form, payload) => {
    const thread = document.getElementById(`comment-${payload.parent_id}`);
    thread.querySelector(".reply-list").append(commentNode(payload));
    form.reset();
  },
};

// Forms marked data-ajax act without reloading; without JavaScript they post as usual.
async function submitQuietly(event) {
  const form = event.target;
  const kind = form.dataset.ajax;
  if (!kind || !handlers[kind]) return;
  event.preventDefault();
  const buttons = form.querySelectorAll("button[type=submit]");
  for (const button of buttons) button.disabled = true;
  clearError(form);
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json", "X-XSRFToken": xsrfToken() },
      credentials: "same-origin",
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      showError(form, body?.message || `${response.status} ${response.statusText}`);
      return;
    }
    handlers[kind](form, body.payload);
  } catch {
    showError(form, document.documentElement.lang === "ko" ? "연결할 수 없습니다." : "Could not connect.");
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

// A picture falls back to its original while its thumbnail is not made yet (a 404).
function useFallback(img) {
  const fallback = img.dataset.fallback;
  if (!fallback || img.getAttribute("src") === fallback) return;
  delete img.dataset.fallback;
  img.src = fallback;
}

function setUpFallbacks() {
  document.addEventListener(
    "error",
    (event) => {
      if (event.target instanceof HTMLImageElement) useFallback(event.target);
    },
    true,
  );
  // Pictures that failed before this deferred script ran.
  for (const img of document.querySelectorAll("img[data-fallback]")) {
    if (img.complete && img.naturalWidth === 0) useFallback(img);
  }
}

// Upload a picture as soon as it is chosen, show its progress and then a preview; the
// post is sent with the URL the upload returned (field `url`).
function setUpPictureFields() {
  for (const field of document.querySelectorAll(".picture-field[data-upload]")) {
    const form = field.closest("form");
    const input = field.querySelector(".picture-input");
    const progress = field.querySelector(".picture-progress");
    const status = field.querySelector(".picture-status");
    const url = form.querySelector(".picture-url");
    const preview = form.querySelector(".picture-preview");
    const previewImg = preview.querySelector("img");
    const remove = preview.querySelector(".picture-remove");
    const submits = form.querySelectorAll("button[type=submit]");
    field.hidden = false;
    remove.addEventListener("change", () => preview.classList.toggle("removed", remove.checked));
    input.addEventListener("change", () => {
      const file = input.files[0];
      if (!file) return;
      clearError(form);
      if (file.size > Number(field.dataset.maxBytes)) {
        showError(form, field.dataset.tooLarge);
        input.value = "";
        return;
      }
      const body = new FormData();
      body.append("img", file);
      const request = new XMLHttpRequest();
      request.open("POST", field.dataset.upload);
      request.setRequestHeader("X-XSRFToken", xsrfToken());
      request.setRequestHeader("Accept", "application/json");
      request.responseType = "json";
      for (const button of submits) button.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      status.textContent = field.dataset.uploading;
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
      });
      request.addEventListener("loadend", () => {
        for (const button of submits) button.disabled = false;
        progress.hidden = true;
        input.value = "";
        const answer = request.response;
        if (request.status !== 200 || !answer?.url) {
          status.textContent = "";
          showError(form, answer?.message || field.dataset.failed);
          return;
        }
        url.value = answer.url;
        remove.checked = false;
        preview.classList.remove("removed");
        previewImg.dataset.fallback = answer.originalUrl;
        previewImg.src = answer.url;
        preview.hidden = false;
        status.textContent = field.dataset.done;
      });
      request.send(body);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpCounters();
  setUpFallbacks();
  setUpPictureFields();
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.ajax) {
      submitQuietly(event);
      return;
    }
    // Show that a form is being sent, and stop a second click from sending it twice.
    if (form.hasAttribute("data-busy")) {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.disabled = true;
        button.classList.add("busy");
      }
    }
  });
});

// Pages restored from the back/forward cache must not keep their buttons disabled.
window.addEventListener("pageshow", () => {
  for (const button of document.querySelectorAll("form[data-busy] button.busy")) {
    button.disabled = false;
    button.classList.remove("busy");
  }
});
