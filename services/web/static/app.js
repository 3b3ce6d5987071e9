// kkot — progressive enhancement. Every page works without this file; with it the
// classify page uploads without a reload (photos downscaled first), feedback is sent
// in place, and the history page updates live over server-sent events.
"use strict";

(function () {
  document.documentElement.classList.add("js");
  const LONGEST_SIDE = 1024;
  const JPEG_QUALITY = 0.9;
  const lang = document.documentElement.lang || "en";

  function show(el, on) { if (el) { el.hidden = !on; } }

  // --- classify page -----------------------------------------------------------
  async function downscale(file) {
    // Large photos are shrunk (longest side 1024, JPEG 0.9) before upload; anything
    // the browser cannot decode goes as it is and the server explains the problem.
    if (!window.createImageBitmap || !file.type.startsWith("image/")) { return file; }
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (e) {
      return file;
    }
    const scale = LONGEST_SIDE / Math.max(bitmap.width, bitmap.height);
    if (scale >= 1) { bitmap.close(); return file; }
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; // transparent PNGs become white, not black, in a JPEG
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
    if (!blob) { return file; }
    const name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
    return new File([blob], name, { type: "image/jpeg" });
  }

  function messageFor(form, status, code) {
    const d = form.dataset;
    if (status === 413 || code === "payload_too_large") { return d.msgTooLarge; }
    if (code === "empty_file") { return d.msgEmpty; }
    if (code === "invalid_image" || code === "unsupported_media_type" || status === 415) { return d.msgNotImage; }
    if (status === 429) { return d.msgRateLimited; }
    if (status === 502 || status === 503 || status === 504) { return d.msgUnavailable; }
    return d.msgError;
  }

  function setupClassify() {
    const form = document.getElementById("classify-form");
    if (!form) { return; }
    const input = document.getElementById("file");
    const zone = document.getElementById("dropzone");
    const preview = document.getElementById("preview");
    const progress = document.getElementById("progress");
    const progressText = progress.querySelector(".status-text");
    const button = document.getElementById("submit-button");
    const slot = document.getElementById("result");
    let previewUrl = null;

    function clearPreview() {
      if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
      preview.removeAttribute("src");
      show(preview, false);
      zone.classList.remove("has-preview");
    }

    // A preview only for what the browser can show: an empty file or a PDF gets its
    // message at once and no broken image.
    function choose(file) {
      if (!file) { return; }
      clearPreview();
      if (file.size === 0) { status(form.dataset.msgEmpty, true); return; }
      if (!file.type.startsWith("image/")) { status(form.dataset.msgNotImage, true); return; }
      previewUrl = URL.createObjectURL(file);
      preview.src = previewUrl;
      show(progress, false);
    }
    preview.addEventListener("load", () => {
      show(preview, true);
      zone.classList.add("has-preview");
    });
    preview.addEventListener("error", () => {
      if (!preview.getAttribute("src")) { return; }
      clearPreview();
      status(form.dataset.msgNotImage, true);
    });

    function status(text, isError) {
      progressText.textContent = text;
      progress.classList.toggle("error", Boolean(isError));
      show(progress, true);
    }

    input.addEventListener("change", () => choose(input.files[0]));
    // Space opens the chooser natively; Enter would submit the form (no photo yet), so
    // it opens the chooser too, as keyboard users expect of the drop zone.
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); input.click(); }
    });
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragover");
    }));
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("dragover")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      const files = event.dataTransfer && event.dataTransfer.files;
      if (files && files.length) {
        input.files = files; // keeps the no-JS fallback (native submit) working too
        choose(files[0]);
      }
    });

    form.addEventListener("submit", async (event) => {
      const file = input.files[0];
      if (!file) { return; } // the browser's "required" message
      event.preventDefault();
      button.disabled = true;
      status(form.dataset.msgWorking, false);
      try {
        const upload = await downscale(file);
        const body = new FormData();
        body.append("file", upload, upload.name || "photo.jpg");
        // One exchange per photo: web classifies it and answers with the result card.
        const response = await fetch(form.dataset.card, {
          method: "POST", body, headers: { "Accept": "text/html", "Accept-Language": lang },
        });
        if (response.redirected) {
          // Sent to sign in: let the form route take the person there. Called through
          // the prototype, as a control named "submit" would shadow form.submit.
          HTMLFormElement.prototype.submit.call(form);
          return;
        }
        const html = await response.text();
        if (!response.ok) {
          // The answer is the friendly error page, already in the reader's language.
          const page = new DOMParser().parseFromString(html, "text/html");
          const said = page.querySelector(".error-text");
          status(said ? said.textContent : messageFor(form, response.status, ""), true);
          return;
        }
        showCard(slot, html, upload);
        show(progress, false);
        slot.scrollIntoView({ behavior: "smooth", block: "nearest" });
      } catch (e) {
        status(form.dataset.msgError, true);
      } finally {
        button.disabled = false;
      }
    });
  }

  // The photo in the card is the one just sent (no second download of it).
  let cardPhotoUrl = null;
  function showCard(slot, html, photo) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const thumb = template.content.querySelector("img.thumb-lg");
    if (cardPhotoUrl) { URL.revokeObjectURL(cardPhotoUrl); cardPhotoUrl = null; }
    if (thumb) {
      cardPhotoUrl = URL.createObjectURL(photo);
      thumb.src = cardPhotoUrl;
    }
    slot.replaceChildren(template.content);
    setupFeedback(slot);
    fillLabels(slot);
  }

  // A card lists the model's top answers; every label comes once per model version
  // and language (the URL says both, and the browser caches it).
  const labelOptions = new Map();
  function fillLabels(root) {
    root.querySelectorAll("select[data-options]").forEach((select) => {
      const url = select.dataset.options;
      if (!labelOptions.has(url)) {
        labelOptions.set(url, fetch(url, { headers: { "Accept": "text/html" } })
          .then((r) => (r.ok ? r.text() : null)).catch(() => null));
      }
      labelOptions.get(url).then((html) => {
        if (!html) { labelOptions.delete(url); return; } // the next card asks again
        if (!select.isConnected) { return; }
        const chosen = select.value;
        select.innerHTML = html;
        select.value = chosen;
      });
    });
  }

  // --- feedback ------------------------------------------------------------------
  function setupFeedback(root) {
    root.querySelectorAll("form.feedback").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const note = form.querySelector(".feedback-note");
        const label = form.querySelector("select").value;
        if (!label) { return; }
        try {
          const response = await fetch(form.dataset.api, {
            method: "POST",
            headers: {
              "Content-Type": "application/json", "Accept": "application/json",
              // The version this page shows: never silently replace someone else's answer.
              "If-Match": '"' + form.dataset.version + '"',
            },
            body: JSON.stringify({ label }),
          });
          if (response.status === 401 || response.status === 403) {
            HTMLFormElement.prototype.submit.call(form);
            return;
          }
          if (response.ok) {
            const data = await response.json().catch(() => ({}));
            if (data.version !== undefined) { form.dataset.version = String(data.version); }
          }
          note.textContent = response.ok ? form.dataset.msgThanks
            : (response.status === 409 ? form.dataset.msgConflict : form.dataset.msgError);
          note.classList.toggle("error-text", !response.ok);
        } catch (e) {
          note.textContent = form.dataset.msgError;
        }
      });
    });
  }

  // --- times ---------------------------------------------------------------------
  // The server writes UTC; with JS on, show the reader's own time zone and language.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = when.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
      }
    });
  }

  // --- history -------------------------------------------------------------------
  function setupHistory() {
    const list = document.getElementById("history-list");
    const badge = document.getElementById("live");
    if (!list || !list.dataset.live || !badge || !window.EventSource) { return; }
    const source = new EventSource(badge.dataset.events);
    // The badge appears with the first connection: "Reconnecting…" only after a drop.
    let connected = false;
    source.addEventListener("open", () => {
      connected = true;
      badge.textContent = badge.dataset.msgLive;
      badge.classList.add("live");
      show(badge, true);
    });
    source.addEventListener("error", () => {
      if (!connected) { return; }
      badge.textContent = badge.dataset.msgOffline;
      badge.classList.remove("live");
    });
    source.addEventListener("classification", (event) => {
      const item = JSON.parse(event.data);
      if (list.querySelector('[data-id="' + CSS.escape(item.id) + '"]')) { return; }
      const template = document.createElement("template");
      template.innerHTML = item.html.trim();
      const node = template.content.firstElementChild;
      if (!node) { return; }
      node.classList.add("fresh");
      localTimes(node);
      list.prepend(node);
      show(document.getElementById("history-empty"), false);
    });
    // A deleted record (by its owner or the retention rule) leaves the page at once.
    source.addEventListener("removed", (event) => {
      const item = JSON.parse(event.data);
      const node = list.querySelector('[data-id="' + CSS.escape(item.id) + '"]');
      if (node) { node.remove(); }
    });
    window.addEventListener("pagehide", () => source.close());
  }

  function start() {
    setupClassify();
    setupFeedback(document);
    setupHistory();
    localTimes(document);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
