// The in-page probe of benchmarks/bench_browser.py, installed in every document before Streamlit's scripts.
// Why in the page: the input event and the cards' change are timed on the same clock (performance.now()),
// with no round trip to the driver in between.
(() => {
  const MARK = 'st-key-ts_similar_';
  const S = window.__bench = {t0: 0, armedRuns: 0, runs: 0, state: null, changes: [], dialogAt: null,
                              lastMutation: performance.now(), sig: '', armed: false};
  const signature = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return '';
    return [...main.querySelectorAll(`[class*="${MARK}"]`)].map(button => {
      const id = [...button.classList].find(c => c.startsWith(MARK)).slice(MARK.length);
      let card = button;  // widen to the largest box that holds this hit's button and no other
      while (card.parentElement && card.parentElement !== main &&
             card.parentElement.querySelectorAll(`[class*="${MARK}"]`).length === 1) card = card.parentElement;
      return id + '\u0001' + card.textContent;
    }).join('\u0002');
  };
  const dialogShown = () => {
    const dialog = document.querySelector('[role="dialog"]');
    if (!dialog || !dialog.textContent.includes('Metadata')) return false;
    return [...dialog.querySelectorAll('img')].some(img => img.complete && img.naturalWidth > 0);
  };
  const look = () => {
    const now = performance.now();
    S.lastMutation = now;
    const sig = signature();
    if (sig !== S.sig) { S.sig = sig; S.changes.push(now); }
    if (S.dialogAt === null && dialogShown()) S.dialogAt = now;
  };
  const readState = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute('data-test-script-state') : null;
    if (state === 'running' && S.state !== 'running') S.runs += 1;
    S.state = state;
  };
  S.arm = () => { S.armed = true; S.t0 = null; S.changes = []; S.dialogAt = null; S.armedRuns = S.runs; };
  S.settled = (quietMs) => S.t0 !== null && S.runs > S.armedRuns && S.state === 'notRunning'
                           && performance.now() - S.lastMutation > quietMs;
  const start = () => { if (S.armed) { S.armed = false; S.t0 = performance.now(); } };
  window.addEventListener('keydown', start, true);
  window.addEventListener('pointerdown', start, true);
  document.addEventListener('load', look, true);  // an image decoded inside the dialog
  const observe = () => {
    new MutationObserver(look).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
    new MutationObserver(readState).observe(document.documentElement,
                                            {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
    readState();
  };
  if (document.documentElement) observe(); else document.addEventListener('DOMContentLoaded', observe);
})();
