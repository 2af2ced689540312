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

// A comment or reply as the server rendered it: built with textContent, never innerHTML.
function commentNode(comment) {
  const item = document.createElement("li");
  item.className = comment.parent_id ? "comment reply" : "comment";
  item.id = `comment-${comment.id}`;
  const line = document.createElement("p");
  const author = document.createElement("a");
  author.className = "author";
  author.href = `/user/${comment.author_id}`;
  author.textContent = comment.author_nick;
  const text = document.createElement("span");
  text.className = "comment-text";
  text.textContent = comment.content;
  line.append(author, " ", text);
  item.append(line);
  if (!comment.parent_id) {
    const replies = document.createElement("ol");
    replies.className = "reply-list";
    item.append(replies);
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
    form.closest(".comments").querySelector(".comment-list").append(commentNode(payload));
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
