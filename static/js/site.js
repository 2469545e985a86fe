// Progressive enhancement only: every page works without this file.

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

// Autocomplete: the search box becomes an ARIA 1.2 combobox over /api/autocomplete/. Arrow keys move through
// the suggestions, Enter opens the chosen film, Escape closes the list; Enter with none chosen still searches.
function enhanceAutocomplete(input) {
  const listbox = document.createElement("ul");
  const status = document.createElement("span");
  listbox.id = `${input.id}-suggestions`;
  listbox.className = "suggestions";
  listbox.setAttribute("role", "listbox");
  listbox.setAttribute("aria-label", "Suggested films");
  listbox.hidden = true;
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  input.after(listbox, status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("aria-expanded", "false");

  let active = -1;
  let pending = null;
  let timer = 0;
  const options = () => Array.from(listbox.children);
  const filmUrl = (id) => input.dataset.filmUrl.replace("999999999", String(id));

  function close() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    const items = options();
    items.forEach((item, i) => item.setAttribute("aria-selected", String(i === index)));
    active = index;
    if (index < 0) {
      input.removeAttribute("aria-activedescendant");
    } else {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    }
  }

  function show(films) {
    listbox.replaceChildren(
      ...films.map((film, i) => {
        const item = document.createElement("li");
        item.id = `${listbox.id}-${i}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.dataset.url = filmUrl(film.id);
        item.textContent = film.year ? `${film.title} (${film.year})` : film.title; // text, never markup
        return item;
      }),
    );
    active = -1;
    input.removeAttribute("aria-activedescendant");
    listbox.hidden = films.length === 0;
    input.setAttribute("aria-expanded", String(films.length > 0));
    status.textContent = films.length ? `${films.length} suggestions; use the up and down arrows.` : "";
  }

  async function suggest() {
    const query = input.value.trim();
    pending?.abort();
    if (query.length < 2) {
      show([]);
      return;
    }
    pending = new AbortController();
    try {
      const url = `${input.dataset.autocomplete}?${new URLSearchParams({ q: query, limit: "8" })}`;
      const response = await fetch(url, { signal: pending.signal, headers: { Accept: "application/json" } });
      if (response.ok && document.activeElement === input) show(await response.json());
    } catch (error) {
      if (error.name !== "AbortError") show([]);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 120);
  });
  input.addEventListener("keydown", (event) => {
    const items = options();
    const open = !listbox.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      if (!open) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
      const down = event.key === "ArrowDown";
      if (active < 0) highlight(down ? 0 : items.length - 1);
      else highlight((active + (down ? 1 : -1) + items.length) % items.length);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      window.location.assign(items[active].dataset.url);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", close);
  // mousedown, not click: the input keeps its focus (and the list stays open) until the film opens.
  listbox.addEventListener("mousedown", (event) => {
    const item = event.target.closest("[role=option]");
    event.preventDefault();
    if (item) window.location.assign(item.dataset.url);
  });
}

// The hybrid balance slider shows its value, and only shows (and is only sent) in hybrid mode.
function enhanceAlpha(form) {
  const box = form.querySelector("[data-alpha]");
  const slider = box?.querySelector("input[type=range]");
  if (!slider) return;
  const output = box.querySelector("output");
  const sync = () => {
    const hybrid = form.querySelector("input[name=mode]:checked")?.value === "hybrid";
    box.hidden = !hybrid;
    slider.disabled = !hybrid;
    const value = Number(slider.value);
    const leaning = value < 0.5 ? "more keyword" : value > 0.5 ? "more meaning" : "even";
    output.textContent = value.toFixed(1);
    output.hidden = false;
    slider.setAttribute("aria-valuetext", `${value.toFixed(1)}, ${leaning}`);
  };
  form.addEventListener("change", sync);
  slider.addEventListener("input", sync);
  sync();
}

// The favourite button toggles in place instead of reloading the page.
function enhanceFavourite(form) {
  const button = form.querySelector("button");
  const status = form.querySelector("[role=status]");
  const link = form.querySelector(".favourites-link");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const { favourite } = await response.json();
      button.classList.toggle("is-favourite", favourite);
      button.querySelector(".star").textContent = favourite ? "★" : "☆";
      button.querySelector(".label").textContent = favourite ? button.dataset.remove : button.dataset.add;
      if (link) link.hidden = !favourite;
      status.textContent = favourite ? "Added to your favourites." : "Removed from your favourites.";
    } catch {
      form.submit(); // let the server answer the plain way
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[data-autocomplete]").forEach(enhanceAutocomplete);
  document.querySelectorAll("form.search-form").forEach(enhanceAlpha);
  document.querySelectorAll("form[data-favourite]").forEach(enhanceFavourite);
});
