// The node's URL in the top bar of Connect mode, with the connection's phase and any problem.
import { h, setAttr, setText } from '../util.js';

/** `conn` is the Connection (connection.js). */
export function createConnectBar(conn) {
  const url = h('input', {
    id: 'connect-url',
    type: 'url',
    placeholder: 'http://127.0.0.1:9100',
    autocomplete: 'url',
    spellcheck: 'false',
    'data-testid': 'connect-url',
  });
  const connect = h(
    'button',
    { type: 'submit', class: 'btn primary', 'data-testid': 'connect-button' },
    'Connect',
  );
  const disconnect = h(
    'button',
    {
      type: 'button',
      class: 'btn ghost',
      'data-testid': 'disconnect-button',
      onclick: () => conn.disconnect(),
    },
    'Disconnect',
  );
  const phase = h('span', { class: 'phase', role: 'status', 'data-testid': 'connect-phase' });
  const problem = h('p', {
    class: 'field-error connect-problem',
    'data-testid': 'connect-problem',
  });
  const el = h(
    'form',
    {
      class: 'connect-bar',
      'aria-label': 'Node to watch',
      onsubmit: (e) => {
        e.preventDefault();
        conn.connect(url.value);
      },
    },
    h('label', { for: 'connect-url' }, 'Node URL'),
    h('div', { class: 'joined' }, url, connect),
    disconnect,
    phase,
    problem,
  );

  function render() {
    if (conn.url && !url.value && document.activeElement !== url) url.value = conn.url;
    setAttr(phase, 'data-phase', conn.phase);
    setText(phase, conn.phaseText);
    setText(problem, conn.problem);
    disconnect.hidden = conn.phase === 'idle';
  }

  return { el, render, focus: () => url.focus() };
}
