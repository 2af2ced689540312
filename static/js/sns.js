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
  line.append(author, " ");
  if (comment.author_bio) {
    const bio = document.createElement("span");
    bio.className = "author-bio";
    bio.textContent = comment.author_bio;
    line.append(bio, " ");
  }
  line.append(commentText(comment));
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

// A picture falls back to its original if its thumbnail is missing after all (a 404).
function useFallback(img) {
  const fallback = img.dataset.fallback;
  if (!fallback || img.getAttribute("src") === fallback) return;
  if (img.hasAttribute("srcset")) {
    // A fresh element: Chromium keeps the failed srcset candidate's density otherwise.
    const fresh = img.cloneNode();
    fresh.removeAttribute("srcset");
    fresh.removeAttribute("sizes");
    delete fresh.dataset.fallback;
    fresh.src = fallback;
    img.replaceWith(fresh);
    return;
  }
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

// Blurhash (https://blurha.sh): the few characters the server computed at upload, drawn
// small on a canvas and shown, scaled and so blurred, behind a picture until it arrives.
const BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function decode83(text) {
  let value = 0;
  for (const character of text) {
    const digit = BASE83.indexOf(character);
    if (digit < 0) return NaN;
    value = value * 83 + digit;
  }
  return value;
}

function toLinear(value) {
  const v = value / 255;
  return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
}

function toSrgb(value) {
  const v = Math.max(0, Math.min(1, value));
  return Math.round((v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055) * 255);
}

function decodeBlurhash(hash, width, height) {
  const size = decode83(hash[0]);
  const ny = Math.floor(size / 9) + 1;
  const nx = (size % 9) + 1;
  if (!(hash.length === 4 + 2 * nx * ny)) return null;
  const maxAc = (decode83(hash[1]) + 1) / 166;
  const dc = decode83(hash.substring(2, 6));
  const colours = [[toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]];
  const signedSquare = (v) => Math.sign(v) * v * v;
  for (let i = 1; i < nx * ny; i++) {
    const v = decode83(hash.substring(4 + i * 2, 6 + i * 2));
    colours.push([
      signedSquare((Math.floor(v / 361) - 9) / 9) * maxAc,
      signedSquare(((Math.floor(v / 19) % 19) - 9) / 9) * maxAc,
      signedSquare(((v % 19) - 9) / 9) * maxAc,
    ]);
  }
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
          const colour = colours[i + j * nx];
          r += colour[0] * basis;
          g += colour[1] * basis;
          b += colour[2] * basis;
        }
      }
      const at = 4 * (x + y * width);
      pixels[at] = toSrgb(r);
      pixels[at + 1] = toSrgb(g);
      pixels[at + 2] = toSrgb(b);
      pixels[at + 3] = 255;
    }
  }
  return pixels;
}

function blurhashUrl(hash) {
  const side = 32;
  const pixels = decodeBlurhash(hash, side, side);
  if (!pixels) return null;
  const canvas = document.createElement("canvas");
  canvas.width = side;
  canvas.height = side;
  canvas.getContext("2d").putImageData(new ImageData(pixels, side, side), 0, 0);
  return canvas.toDataURL();
}

function setUpPlaceholders() {
  for (const img of document.querySelectorAll("img[data-blurhash]")) {
    if (img.complete && img.naturalWidth > 0) continue;
    const url = blurhashUrl(img.dataset.blurhash);
    if (!url) continue;
    img.style.backgroundImage = `url("${url}")`;
    img.style.backgroundSize = "cover";
    img.classList.add("placeholder-shown");
    img.addEventListener(
      "load",
      () => {
        img.style.backgroundImage = "";
        img.classList.remove("placeholder-shown");
      },
      { once: true },
    );
  }
}

// Pictures of a post: each file chosen is uploaded at once (/post/img) with its own progress
// bar and cancel; the post is sent with the URLs the uploads returned, in the order shown,
// each followed by its description (fields `url`, `alt`).
function setUpPictureFields() {
  for (const field of document.querySelectorAll(".picture-field[data-upload]")) {
    const form = field.closest("form");
    const list = form.querySelector(".picture-list");
    const template = form.querySelector(".picture-template");
    const input = field.querySelector(".picture-input");
    const changeInput = field.querySelector(".picture-change-input");
    const addButton = field.querySelector(".picture-button");
    const submits = form.querySelectorAll("button[type=submit]");
    const max = Number(field.dataset.max);
    const maxBytes = Number(field.dataset.maxBytes);
    let pending = 0;
    let changing = null;
    // The files go up one by one through /post/img; the form itself carries none. The input
    // stays, see-through over its styled label, so keyboard and screen readers still reach it.
    input.removeAttribute("name");

    const items = () => Array.from(list.querySelectorAll(".picture-item"));
    const setBusy = (delta) => {
      pending += delta;
      for (const button of submits) button.disabled = pending > 0;
    };
    const refresh = () => {
      const all = items();
      all.forEach((item, index) => {
        item.querySelector(".picture-left").disabled = index === 0;
        item.querySelector(".picture-right").disabled = index === all.length - 1;
      });
      const full = all.length >= max;
      input.disabled = full;
      addButton.classList.toggle("disabled", full);
    };

    const upload = (item, file) => {
      const status = item.querySelector(".picture-status");
      const progress = item.querySelector(".picture-progress");
      const cancel = item.querySelector(".picture-cancel");
      const thumb = item.querySelector(".picture-thumb");
      const url = item.querySelector(".picture-url");
      const before = { url: url.value, src: thumb.getAttribute("src") };
      clearError(form);
      const fail = (message) => {
        showError(form, message);
        if (before.url) {
          url.value = before.url;
          thumb.src = before.src;
          status.textContent = message;
        } else {
          item.remove();
          refresh();
        }
      };
      if (file.size > maxBytes) {
        fail(field.dataset.tooLarge);
        return;
      }
      const local = URL.createObjectURL(file);
      // A browser draws no HEIC (and some no AVIF): when it cannot draw the file chosen, the
      // preview becomes the JPEG the server stored from it, once the upload is done.
      let stored = null;
      const drawnBroken = () => thumb.src === local && thumb.complete && thumb.naturalWidth === 0;
      const showStored = () => {
        if (!stored || thumb.src !== local) return;
        thumb.src = stored;
        URL.revokeObjectURL(local);
      };
      thumb.addEventListener("error", showStored, { once: true });
      thumb.src = local;
      url.value = "";
      const body = new FormData();
      body.append("img", file);
      const request = new XMLHttpRequest();
      request.open("POST", field.dataset.upload);
      request.setRequestHeader("X-XSRFToken", xsrfToken());
      request.setRequestHeader("Accept", "application/json");
      request.responseType = "json";
      let cancelled = false;
      progress.hidden = false;
      progress.value = 0;
      cancel.hidden = false;
      status.textContent = field.dataset.uploading;
      item.classList.add("uploading");
      setBusy(1);
      item.cancelUpload = () => {
        cancelled = true;
        request.abort();
      };
      cancel.onclick = () => item.cancelUpload();
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
      });
      request.addEventListener("loadend", () => {
        setBusy(-1);
        progress.hidden = true;
        cancel.hidden = true;
        item.classList.remove("uploading");
        item.cancelUpload = null;
        const answer = request.response;
        if (request.status === 200 && answer?.url) {
          url.value = answer.url;
          if (answer.width && answer.height) {
            thumb.width = answer.width;
            thumb.height = answer.height;
          }
          status.textContent = field.dataset.done;
          stored = answer.originalUrl;
          if (drawnBroken()) showStored();
          return;
        }
        URL.revokeObjectURL(local);
        if (cancelled) fail(field.dataset.cancelled);
        else if (request.status === 0) fail(field.dataset.network);
        else if (request.status === 413) fail(answer?.message || field.dataset.tooLarge);
        else fail(answer?.message || `${field.dataset.failed} (${request.status})`);
      });
      request.send(body);
    };

    const newItem = () => {
      const item = template.content.firstElementChild.cloneNode(true);
      list.append(item);
      return item;
    };

    input.addEventListener("change", () => {
      const files = Array.from(input.files);
      input.value = "";
      const room = max - items().length;
      if (files.length > room) showError(form, field.dataset.tooMany);
      for (const file of files.slice(0, Math.max(0, room))) upload(newItem(), file);
      refresh();
    });

    changeInput.addEventListener("change", () => {
      const file = changeInput.files[0];
      changeInput.value = "";
      if (file && changing) upload(changing, file);
      changing = null;
    });

    list.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      const item = button?.closest(".picture-item");
      if (!item) return;
      if (button.classList.contains("picture-remove")) {
        item.cancelUpload?.();
        const next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        refresh();
        (next?.querySelector(".picture-remove") || input).focus();
      } else if (button.classList.contains("picture-left") && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
        refresh();
        button.focus();
      } else if (button.classList.contains("picture-right") && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
        refresh();
        button.focus();
      } else if (button.classList.contains("picture-change")) {
        changing = item;
        changeInput.click();
      }
    });
    refresh();
  }
}

// The profile picture's styled button: the chosen file's name and, when the browser can
// draw it (not HEIC), a small square preview of it before it is sent.
function setUpAvatarFields() {
  for (const field of document.querySelectorAll(".avatar-field")) {
    const input = field.querySelector('input[type="file"]');
    const chosen = field.querySelector(".avatar-chosen");
    const preview = field.querySelector(".avatar-preview");
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      chosen.textContent = file ? file.name : "";
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.hidden = true;
      if (!file) return;
      preview.onload = () => { preview.hidden = false; };
      preview.onerror = () => { preview.hidden = true; };
      preview.src = URL.createObjectURL(file);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  setUpAvatarFields();
  setUpCounters();
  setUpFallbacks();
  setUpPlaceholders();
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
