// The Services panel: the cards, and in the simulator a form to add a service.
import { h, setText } from '../util.js';
import { createCards } from './cards.js';

/** `actions.add(name)` returns an error text or null; select and remove go to the cards. */
export function createServicesPanel(actions) {
  const cards = createCards(actions);
  const name = h('input', {
    id: 'add-name',
    type: 'text',
    placeholder: 'e.g. shipping',
    autocomplete: 'off',
    maxlength: 256,
    'data-testid': 'add-service-name',
  });
  const error = h('p', { class: 'field-error', role: 'alert', 'data-testid': 'add-service-error' });
  const form = h(
    'form',
    {
      class: 'add-service',
      'data-testid': 'add-service-form',
      onsubmit: (e) => {
        e.preventDefault();
        const err = actions.add(name.value);
        error.textContent = err ?? '';
        if (!err) name.value = '';
      },
    },
    h('label', { for: 'add-name', class: 'sr-only' }, 'New service name'),
    h(
      'div',
      { class: 'joined' },
      name,
      h(
        'button',
        { type: 'submit', class: 'btn', 'data-testid': 'add-service-button' },
        'Add service',
      ),
    ),
    error,
  );
  const hint = h('p', { class: 'muted small' });
  const el = h(
    'section',
    { class: 'panel services', 'aria-labelledby': 'services-h' },
    h(
      'div',
      { class: 'panel-head' },
      h('div', {}, h('h2', { id: 'services-h' }, 'Services'), hint),
      form,
    ),
    cards.el,
  );

  function render(vm) {
    form.hidden = vm.mode !== 'simulate';
    setText(
      hint,
      vm.mode === 'simulate'
        ? 'Pick a service to inspect and control it.'
        : 'The node’s breakers, live. Pick one to inspect it.',
    );
    cards.render(vm);
  }

  return { el, render, focusAdd: () => name.focus() };
}
