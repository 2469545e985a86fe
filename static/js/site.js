// A poster that cannot load (missing, offline, blocked) is removed, uncovering its generated placeholder.
// "error" does not bubble, so listen in the capture phase; this file loads before any image.
document.addEventListener(
  "error",
  (event) => {
    if (event.target instanceof HTMLImageElement && event.target.classList.contains("poster-img")) {
      event.target.remove();
    }
  },
  true,
);
