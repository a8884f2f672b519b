/**
 * The page's only script, served as /assets/live.js: it listens to /api/events and, on each change, fetches the
 * live region again (server-rendered, escaped there) with the page's own filters and swaps it in. Written as a
 * self-contained function so its source is embedded in the binary as it is (no bundler, no CDN); it reads no
 * variable from outside itself.
 */
export function liveUpdates(): void {
  const live = () => document.getElementById("live");
  const status = document.getElementById("updated");
  let pending: ReturnType<typeof setTimeout> | undefined;
  const refresh = () => {
    pending = undefined;
    const query = new URLSearchParams(window.location.search);
    query.set("fragment", "live");
    fetch(`/?${query.toString()}`, { headers: { accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(new Error(String(response.status)))))
      .then((html) => {
        const region = live();
        if (region === null) return;
        const focused = document.activeElement instanceof HTMLElement && region.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
        region.outerHTML = html;
        if (focused !== null) (document.querySelector(`#live a[href="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
        if (status !== null) status.textContent = `Live, updated ${new Date().toLocaleTimeString()}`;
      })
      .catch(() => {
        if (status !== null) status.textContent = "Live updates paused: the daemon did not answer; retrying";
      });
  };
  // Resume from the change the server rendered, so nothing committed between the render and this connection
  // is missed; on a reconnect the browser sends Last-Event-ID itself.
  const since = live()?.dataset.lastChange ?? "";
  const events = new EventSource(/^\d+$/.test(since) ? `/api/events?lastEventId=${since}` : "/api/events");
  const schedule = () => {
    if (pending === undefined) pending = setTimeout(refresh, 100);
  };
  events.addEventListener("deployment", schedule);
  events.addEventListener("promotion", schedule);
  events.addEventListener("open", () => {
    if (status !== null) status.textContent = "Live";
  });
}

/** The script's text, as served. */
export const LIVE_SCRIPT = `(${liveUpdates.toString()})();\n`;
