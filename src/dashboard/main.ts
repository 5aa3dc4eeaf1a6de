import { ApiError, setApiKey } from "./api.js";
import { destroyCharts } from "./charts.js";
import { clear, h } from "./dom.js";
import { renderDetection } from "./pages/detection.js";
import { renderOverview } from "./pages/overview.js";
import { renderTest } from "./pages/test.js";
import { parseHash } from "./router.js";
import { notice } from "./widgets.js";

const root = document.getElementById("app") as HTMLElement;
let generation = 0;

function keyForm(message: string): HTMLElement {
  const input = h("input", { type: "password", id: "api-key", autocomplete: "off", "aria-label": "API key" });
  return notice(
    "This server needs an API key",
    h("p", {}, message),
    h(
      "form",
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          setApiKey(input.value.trim());
          void render();
        },
      },
      input,
      h("button", { type: "submit" }, "Use key"),
    ),
    h("p", { class: "muted" }, "Kept in this tab's session storage only."),
  );
}

async function render(): Promise<void> {
  const mine = ++generation;
  const route = parseHash(location.hash);
  destroyCharts();
  const page = h("div", { class: "page", "data-page": route.page });
  document.title = "flaky-detector";
  root.setAttribute("aria-busy", "true");
  try {
    if (route.page === "detection") await renderDetection(page, route.id as string);
    else if (route.page === "test") await renderTest(page, route.params);
    else
      await renderOverview(page, route.params, (hash) => {
        location.hash = hash;
      });
  } catch (e) {
    clear(page);
    if (e instanceof ApiError && e.status === 401) page.append(keyForm(e.message));
    else
      page.append(
        notice(
          e instanceof ApiError && e.status === 404 ? "Not found" : "Could not load this page",
          h("p", {}, e instanceof Error ? e.message : String(e)),
          h("p", {}, h("a", { href: "#/" }, "Back to the overview")),
        ),
      );
  }
  // A slower earlier render must not overwrite the page the user has since navigated to.
  if (mine !== generation) return;
  clear(root);
  root.append(page);
  root.setAttribute("aria-busy", "false");
  document.body.dataset.ready = String(mine);
}

window.addEventListener("hashchange", () => void render());
void render();
