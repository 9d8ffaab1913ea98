// The Config panel of the simulator. The form is built from the `config` object the core returns,
// so fields added to the core appear by themselves; values go to the core as typed, and a refusal
// is shown next to the field the core names.
import { h, parseValue, setText } from '../util.js';
import './config.css';

function fieldLabel(key) {
  return key
    .replace(/_ms$/, ' (ms)')
    .replace(/_/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());
}

function showValue(v) {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v ?? '');
}

function buildField(key, value, onEdit) {
  const id = `config-${key}`;
  const common = {
    id,
    spellcheck: 'false',
    'data-testid': id,
    'aria-describedby': `${id}-error`,
    oninput: () => onEdit(key),
  };
  const input =
    value !== null && typeof value === 'object'
      ? h('textarea', { ...common, rows: 2 })
      : h('input', {
          ...common,
          type: 'text',
          inputmode: typeof value === 'number' ? 'numeric' : 'text',
          autocomplete: 'off',
        });
  const err = h('p', {
    class: 'field-error',
    id: `${id}-error`,
    'data-testid': `config-error-${key}`,
    role: 'alert',
  });
  const el = h(
    'div',
    { class: 'field config-field' },
    h('label', { for: id }, fieldLabel(key), h('code', { class: 'key' }, key)),
    input,
    err,
  );
  return { el, input, err };
}

function radio(value, label, onchange) {
  const input = h('input', {
    type: 'radio',
    name: 'config-scope',
    id: `scope-${value}`,
    value,
    checked: value === 'defaults',
    'data-testid': `config-scope-${value}`,
    onchange,
  });
  return { input, label: h('label', { for: `scope-${value}` }, label) };
}

/** The panel around the fields: the scope, the buttons and the status line. */
function panel({ scopes, fields, status, clear, apply, revert }) {
  return h(
    'section',
    { class: 'panel config', 'aria-labelledby': 'config-h' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'config-h' }, 'Config')),
    h(
      'form',
      {
        class: 'config-form',
        novalidate: true,
        'data-testid': 'config-form',
        onsubmit: (e) => {
          e.preventDefault();
          apply();
        },
      },
      h(
        'fieldset',
        { class: 'scope' },
        h('legend', { class: 'sr-only' }, 'Apply to'),
        scopes.map((r) => h('span', { class: 'radio' }, r.input, r.label)),
      ),
      fields,
      h(
        'div',
        { class: 'action-row' },
        h(
          'button',
          { type: 'submit', class: 'btn primary', 'data-testid': 'config-apply' },
          'Apply',
        ),
        h(
          'button',
          { type: 'button', class: 'btn ghost', 'data-testid': 'config-revert', onclick: revert },
          'Revert',
        ),
        clear,
      ),
      status,
    ),
  );
}

/** `sim` is the Simulator (simulator.js). */
export function createConfigForm(sim) {
  // The fields the user has typed in (kept as typed until applied or reverted), and the shape of
  // the form (scope, service, keys) its fields were built for.
  const form = { scope: 'defaults', edited: new Set(), fields: new Map(), shape: '' };
  const defaults = radio('defaults', 'All services (defaults)', () => setScope('defaults'));
  const service = radio('service', 'This service only', () => setScope('service'));
  const fields = h('div', { class: 'config-fields' });
  const status = h('p', { class: 'config-status', role: 'status', 'data-testid': 'config-status' });
  const clear = h(
    'button',
    { type: 'button', class: 'btn ghost', 'data-testid': 'config-clear', onclick: clearOverrides },
    'Clear overrides',
  );
  const el = panel({ scopes: [defaults, service], fields, status, clear, apply, revert });

  const scopeService = () => (form.scope === 'service' ? sim.sim.selected : null);
  const current = () =>
    form.scope === 'service'
      ? (sim.node.status.get(sim.sim.selected)?.config ?? null)
      : sim.node.defaults;

  function setStatus(text, error = false) {
    status.textContent = text;
    status.classList.toggle('error', error);
  }

  function clearErrors() {
    for (const f of form.fields.values()) {
      f.err.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
    setStatus('');
  }

  function revert() {
    form.edited.clear();
    clearErrors();
    render({ force: true });
  }

  function setScope(scope) {
    form.scope = scope;
    revert();
  }

  function showError(text) {
    const m = /^config\.([A-Za-z0-9_]+)/.exec(text);
    const f = m && form.fields.get(m[1]);
    if (!f) return setStatus(text, true);
    f.err.textContent = text;
    f.input.setAttribute('aria-invalid', 'true');
    f.input.focus();
    setStatus('Not applied: the core refused a value.', true);
  }

  function apply() {
    clearErrors();
    const patch = {};
    for (const key of form.edited) {
      const f = form.fields.get(key);
      const parsed = parseValue(f.input.value);
      if (parsed.error) return showError(`config.${key}: ${parsed.error}`);
      patch[key] = parsed.value;
    }
    if (!Object.keys(patch).length) return setStatus('Nothing changed.');
    const target = scopeService();
    const reply = sim.configure(target, patch);
    if (reply?.type !== 'configure_ok') return showError(reply?.text ?? 'No reply from the core.');
    form.edited.clear();
    setStatus(`Applied to ${target ?? 'all services'}: ${Object.keys(patch).join(', ')}.`);
    render({ force: true });
  }

  function clearOverrides() {
    clearErrors();
    const target = sim.sim.selected;
    const cfg = current();
    if (!target || !cfg) return;
    const reply = sim.clearOverrides(target, Object.keys(cfg));
    if (reply?.type !== 'configure_ok') return showError(reply?.text ?? 'No reply from the core.');
    form.edited.clear();
    setStatus(`${target} follows the defaults again.`);
    render({ force: true });
  }

  function onEdit(key) {
    form.edited.add(key);
    form.fields.get(key).input.classList.add('edited');
  }

  /** Rebuilds the fields when the scope, service or set of keys changes; fills untouched ones. */
  function render({ force = false } = {}) {
    const selected = sim.sim.selected;
    setText(service.label, selected ? `Only ${selected}` : 'This service only');
    service.input.disabled = !selected;
    clear.hidden = form.scope !== 'service';
    const cfg = current();
    if (!cfg) return;
    const keys = Object.keys(cfg);
    const shape = `${form.scope}|${selected}|${keys.join(',')}`;
    if (shape !== form.shape) {
      form.shape = shape;
      form.edited.clear();
      form.fields = new Map(keys.map((k) => [k, buildField(k, cfg[k], onEdit)]));
      fields.replaceChildren(...[...form.fields.values()].map((f) => f.el));
      force = true;
    }
    for (const [key, f] of form.fields) {
      if (form.edited.has(key)) continue;
      if (!force && document.activeElement === f.input) continue;
      const v = showValue(cfg[key]);
      if (f.input.value !== v) f.input.value = v;
      f.input.classList.remove('edited');
    }
  }

  return { el, render: () => render() };
}
