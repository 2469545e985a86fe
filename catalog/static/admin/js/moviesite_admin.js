// A poster thumbnail that cannot load (offline, moved) is removed, uncovering its placeholder.
// "error" does not bubble, so listen in the capture phase; this file loads in the head, before any image.
document.addEventListener(
  "error",
  (event) => {
    if (event.target instanceof HTMLImageElement && event.target.closest(".movie-thumb")) {
      event.target.remove();
    }
  },
  true,
);
