// Messages to the user: a toast that goes away by itself, and a polite live region for screen
// readers (the selected breaker's transitions).
import { h } from '../util.js';

const TOAST_MS = 4000;

export function createNotices() {
  const live = h('div', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'announcer' });
  const box = h('div', { class: 'toast', role: 'status', hidden: true });
  let timer = null;
  return {
    els: [live, box],
    toast(text) {
      box.textContent = text;
      box.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(() => {
        box.hidden = true;
      }, TOAST_MS);
    },
    announce(text) {
      live.textContent = text;
    },
  };
}
