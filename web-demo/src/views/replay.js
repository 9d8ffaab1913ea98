// The Replay panel: NDJSON documents, as breaker-host reads them, replayed into a fresh node with
// a manual clock or into the live one; the replies exactly as the core returns them.
import { h, setText } from '../util.js';

export const EXAMPLE = [
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}',
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":2,"state":"open"}}',
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":3,"state":"half_open","force_success":true}}',
].join('\n');

function summary(result) {
  if (!result) return '';
  const replies = result.out.split('\n').filter(Boolean).length;
  const problems = result.diagnostics.split('\n').filter(Boolean).length;
  const where = result.live ? 'live node' : 'fresh node';
  const diag = problems ? `, ${problems} diagnostic${problems === 1 ? '' : 's'}` : '';
  return `${replies} repl${replies === 1 ? 'y' : 'ies'}${diag} from the ${where}.`;
}

/** A file picker, visually hidden: keyboard users reach it with Tab and its label shows the focus. */
function fileInput(loaded) {
  const input = h('input', {
    id: 'transcript-file',
    type: 'file',
    class: 'sr-only file-input',
    accept: '.ndjson,.jsonl,.json,.txt,application/json,application/x-ndjson,text/plain',
    'data-testid': 'transcript-file',
    onchange: async () => {
      const f = input.files?.[0];
      if (!f) return;
      loaded(f, await f.text());
      input.value = '';
    },
  });
  return input;
}

/** `sim` is the Simulator (simulator.js); its `replayResult` is what is shown. */
export function createReplay(sim) {
  const transcript = h('textarea', {
    id: 'transcript',
    rows: 7,
    spellcheck: 'false',
    placeholder: EXAMPLE.split('\n')[0],
    'data-testid': 'transcript-input',
  });
  const status = h('p', { class: 'muted small', role: 'status', 'data-testid': 'replay-status' });
  const file = fileInput((f, text) => {
    transcript.value = text;
    status.textContent = `Loaded ${f.name} (${f.size} bytes).`;
  });
  const mode = h(
    'select',
    { id: 'replay-mode', 'data-testid': 'replay-mode' },
    h('option', { value: 'fresh' }, 'Fresh node · manual clock'),
    h('option', { value: 'live' }, 'Live node · simulated time'),
  );
  const output = h('pre', {
    class: 'replay-output',
    'data-testid': 'replay-output',
    tabindex: '0',
    'aria-label': 'Replies',
  });
  const diag = h('pre', {
    class: 'replay-diag',
    'data-testid': 'replay-diagnostics',
    hidden: true,
  });

  function replay() {
    const text = transcript.value;
    if (!text.trim()) {
      status.textContent = 'Paste or upload a transcript first.';
      return;
    }
    sim.replay(text, mode.value === 'live');
    status.textContent = summary(sim.replayResult);
  }

  const el = h(
    'section',
    { class: 'panel replay', 'aria-labelledby': 'replay-h' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'replay-h' }, 'Replay a transcript')),
    h(
      'p',
      { class: 'muted small' },
      'NDJSON documents {"src","dest","body"}, as breaker-host reads them. Replies are shown exactly as the core returns them.',
    ),
    h('label', { for: 'transcript', class: 'sr-only' }, 'Transcript'),
    transcript,
    h(
      'div',
      { class: 'action-row' },
      h(
        'button',
        { type: 'button', class: 'btn primary', 'data-testid': 'replay-button', onclick: replay },
        'Replay',
      ),
      file,
      h('label', { for: 'transcript-file', class: 'btn file-btn' }, 'Upload…'),
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost',
          'data-testid': 'load-example',
          onclick: () => {
            transcript.value = EXAMPLE;
            transcript.focus();
          },
        },
        'Task example',
      ),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'replay-mode' }, 'Replay into'),
      mode,
      h(
        'p',
        { class: 'muted small' },
        'A fresh node answers like breaker-host --clock manual; the live node is the one the page drives.',
      ),
    ),
    status,
    h('h3', { class: 'sub' }, 'Replies'),
    output,
    diag,
  );

  function render() {
    const r = sim.replayResult;
    setText(output, r?.out ?? '');
    setText(diag, r?.diagnostics ?? '');
    diag.hidden = !r?.diagnostics;
  }

  return { el, render };
}
