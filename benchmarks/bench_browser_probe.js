// The in-page probe of benchmarks/bench_browser.py, installed in every document before Streamlit's scripts.
// Why in the page: the input event and the cards' change are timed on the same clock (performance.now()),
// with no round trip to the driver in between.
(() => {
  const MARK = 'st-key-ts_similar_';
  const S = window.__bench = {t0: 0, armedRuns: 0, runs: 0, state: null, changes: [], dialogAt: null,
                              imagesAt: null, loaded: false, lastMutation: performance.now(), sig: '', armed: false,
                              messages: []};
  const cards = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return [];
    return [...main.querySelectorAll(`[class*="${MARK}"]`)].map(button => {
      const id = [...button.classList].find(c => c.startsWith(MARK)).slice(MARK.length);
      let card = button;  // widen to the largest box that holds this hit's button and no other
      while (card.parentElement && card.parentElement !== main &&
             card.parentElement.querySelectorAll(`[class*="${MARK}"]`).length === 1) card = card.parentElement;
      return {id, card};
    });
  };
  const dialogShown = () => {
    const dialog = document.querySelector('[role="dialog"]');
    if (!dialog) return false;  // shown = its metadata table (by heading or widget) and a decoded image
    const table = dialog.textContent.includes('Metadata')
                  || dialog.querySelector('[data-testid="stDataFrame"], [data-testid="stTable"]');
    if (!table) return false;
    return [...dialog.querySelectorAll('img')].some(img => img.complete && img.naturalWidth > 0);
  };
  const look = () => {
    const now = performance.now();
    S.lastMutation = now;
    const found = cards();
    const sig = found.map(({id, card}) => id + '\u0001' + card.textContent).join('\u0002');
    if (sig !== S.sig) { S.sig = sig; S.changes.push(now); }
    // Every card's thumbnail finished (complete: loaded or failed, so a broken one cannot hang the wait).
    const loaded = found.length > 0 && found.every(({card}) => [...card.querySelectorAll('img')].every(i => i.complete));
    if (loaded && !S.loaded) S.imagesAt = now;
    S.loaded = loaded;
    if (S.dialogAt === null && dialogShown()) S.dialogAt = now;
  };
  const readState = (records = []) => {
    // Every value the attribute took, in order (a fast run can flip running -> notRunning within one batch).
    const app = document.querySelector('[data-testid="stApp"]');
    const values = [...records.map(r => r.oldValue), app ? app.getAttribute('data-test-script-state') : null];
    for (const value of values) {
      if (value === 'running' && S.state !== 'running') S.runs += 1;
      S.state = value;
    }
    look();
  };
  S.arm = () => {
    Object.assign(S, {armed: true, t0: null, changes: [], dialogAt: null, imagesAt: null, loaded: false,
                      armedRuns: S.runs, messages: []});
  };
  // Over when a run the input started has ended and the DOM is quiet; should a tree's rerun not show in the
  // script state (a fragment), after a longer quiet (4x with a changed card, 8x without: nothing happened).
  S.settled = (quietMs) => {
    const quiet = performance.now() - Math.max(S.lastMutation, S.t0 ?? 0);  // never quiet before the input
    return S.t0 !== null && S.state === 'notRunning' && quiet > quietMs && (S.loaded || !S.changes.length)
           && (S.runs > S.armedRuns || quiet > (S.changes.length ? 4 : 8) * quietMs);
  };
  // When each server message arrived (its event's creation time, on the performance.now() clock), so the
  // server's share (input to last message) and the browser's (last message to last card change) can be told apart.
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', event => { if (S.t0 !== null) S.messages.push(event.timeStamp); });
    }
  };
  const start = () => { if (S.armed) { S.armed = false; S.t0 = performance.now(); } };
  window.addEventListener('keydown', start, true);
  window.addEventListener('pointerdown', start, true);
  document.addEventListener('load', look, true);  // a thumbnail or the dialog's image decoded
  document.addEventListener('error', look, true);
  const observe = () => {
    new MutationObserver(look).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
    new MutationObserver(readState).observe(document.documentElement,
                                            {attributes: true, attributeOldValue: true, subtree: true,
                                             attributeFilter: ['data-test-script-state']});
    readState();
  };
  if (document.documentElement) observe(); else document.addEventListener('DOMContentLoaded', observe);
})();
