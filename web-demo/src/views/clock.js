// The simulated clock in the top bar: time, play/pause, step with its size, speed and the seed of
// the downstream.
import { fmtDuration, fmtTime, h, setAttr, setText } from '../util.js';

const SPEEDS = [0.25, 0.5, 1, 2, 5, 10, 20];
const STEPS = [
  { ms: 100, label: '0.1 s' },
  { ms: 1000, label: '1 s' },
  { ms: 5000, label: '5 s' },
  { ms: 10000, label: '10 s' },
];

/** `sim` is the Simulator (simulator.js). */
export function createClock(sim) {
  const play = h('button', {
    type: 'button',
    class: 'btn primary',
    'data-testid': 'play-toggle',
    onclick: () => sim.setPlaying(!sim.sim.playing),
  });
  const step = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'step-button', onclick: () => sim.step() },
    'Step',
  );
  const stepSize = h(
    'select',
    {
      id: 'step-size',
      'data-testid': 'step-size',
      onchange: () => sim.setClock('step', Number(stepSize.value)),
    },
    STEPS.map((s) => h('option', { value: s.ms }, `+${s.label}`)),
  );
  const speed = h(
    'select',
    {
      id: 'speed',
      'data-testid': 'speed',
      onchange: () => sim.setClock('speed', Number(speed.value)),
    },
    SPEEDS.map((v) => h('option', { value: v }, `×${v}`)),
  );
  const time = h('output', { class: 'sim-time', 'data-testid': 'sim-time', 'aria-live': 'off' });
  const seed = h('input', {
    id: 'seed',
    type: 'number',
    inputmode: 'numeric',
    class: 'seed-input',
    'data-testid': 'seed',
    onchange: () => {
      const v = Math.trunc(Number(seed.value));
      if (Number.isFinite(v)) sim.reseed(v);
    },
  });
  const el = h(
    'div',
    { class: 'clock', role: 'group', 'aria-label': 'Simulated clock' },
    h('div', { class: 'clock-time' }, h('span', { class: 'muted small' }, 'Simulated time'), time),
    play,
    h(
      'div',
      { class: 'joined' },
      step,
      h('label', { class: 'sr-only', for: 'step-size' }, 'Step size'),
      stepSize,
    ),
    h('div', { class: 'inline-field' }, h('label', { for: 'speed' }, 'Speed'), speed),
    h('div', { class: 'inline-field' }, h('label', { for: 'seed' }, 'Seed'), seed),
  );

  /** Inputs the user is in are left alone. */
  const put = (input, value) => {
    if (document.activeElement !== input && input.value !== String(value)) input.value = value;
  };

  function render() {
    const s = sim.sim;
    setText(time, fmtTime(s.now));
    setText(play, s.playing ? 'Pause' : 'Play');
    setAttr(play, 'aria-pressed', s.playing);
    setAttr(
      play,
      'aria-label',
      s.playing ? 'Pause the simulated clock' : 'Play the simulated clock',
    );
    setAttr(step, 'aria-label', `Step the clock by ${fmtDuration(s.step)}`);
    put(speed, s.speed);
    put(stepSize, s.step);
    put(seed, s.seed);
  }

  return { el, render };
}
