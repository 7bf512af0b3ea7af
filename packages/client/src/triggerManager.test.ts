import { describe, expect, it, vi } from 'vitest';
import { TriggerManager, type TriggerSetup } from './triggerManager.js';

/** A setup that records its attachments and hands out the trigger of the latest one. */
function source() {
  const log: string[] = [];
  let fire: (name: string) => void = () => {};
  const setup: TriggerSetup = (trigger) => {
    log.push('attach');
    fire = trigger;
    return () => log.push('detach');
  };
  return { setup, log, fire: (name: string) => fire(name) };
}

describe('TriggerManager', () => {
  it('attaches on the first subscriber and detaches after the last', () => {
    const s = source();
    const manager = new TriggerManager(s.setup);
    const a = vi.fn();
    const offA = manager.subscribe(a);
    const offB = manager.subscribe(() => {});
    s.fire('focus');
    expect(a).toHaveBeenCalledWith('focus');
    offA();
    expect(s.log).toEqual(['attach']);
    offB();
    expect(s.log).toEqual(['attach', 'detach']);
  });

  it('setEventListener swaps the source at once while subscribed, detaching the old one', () => {
    const first = source();
    const second = source();
    const manager = new TriggerManager(first.setup);
    const listener = vi.fn();
    manager.subscribe(listener);
    manager.setEventListener(second.setup);
    expect(first.log).toEqual(['attach', 'detach']);
    expect(second.log).toEqual(['attach']);
    second.fire('online');
    expect(listener).toHaveBeenCalledWith('online');
  });

  it('setEventListener attaches nothing while nobody listens; the first subscriber attaches the new source', () => {
    const first = source();
    const second = source();
    const manager = new TriggerManager(first.setup);
    manager.subscribe(() => {})();
    manager.setEventListener(second.setup);
    expect(first.log).toEqual(['attach', 'detach']);
    expect(second.log).toEqual([]);
    manager.subscribe(() => {});
    expect(second.log).toEqual(['attach']);
  });

  it('takes a setup that returns no cleanup (no window: a server render) and swaps it', () => {
    const manager = new TriggerManager(() => undefined);
    const off = manager.subscribe(() => {});
    const next = source();
    manager.setEventListener(next.setup);
    expect(next.log).toEqual(['attach']);
    off();
    expect(next.log).toEqual(['attach', 'detach']);
  });
});
