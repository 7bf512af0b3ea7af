/** Sets up event listeners that call `trigger`; returns the cleanup. */
export type TriggerSetup = (trigger: (source: string) => void) => (() => void) | void;

/**
 * A source of "check now" moments (tab visible again, window focused, back online, restored
 * from the back/forward cache). Like TanStack Query's focusManager: listeners attach on the
 * first subscriber and detach on the last, and `setEventListener` swaps the source.
 */
export class TriggerManager {
  readonly #listeners = new Set<(source: string) => void>();
  #setup: TriggerSetup;
  #cleanup: (() => void) | void = undefined;

  constructor(setup: TriggerSetup = browserTriggers) {
    this.#setup = setup;
  }

  /** Calls `listener` on every trigger until the returned function is called. */
  subscribe(listener: (source: string) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#attach();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#detach();
    };
  }

  /** Replaces how triggers are detected (another platform, or a test). */
  setEventListener(setup: TriggerSetup): void {
    this.#setup = setup;
    // Attached exactly while someone listens.
    if (this.#listeners.size) {
      this.#detach();
      this.#attach();
    }
  }

  #attach() {
    this.#cleanup = this.#setup((source) => {
      for (const listener of this.#listeners) listener(source);
    });
  }

  #detach() {
    this.#cleanup?.();
    this.#cleanup = undefined;
  }
}

/** Listens to `types` on `window` while attached; `pick` maps an event to a trigger name, or skips it. */
function listen(types: string[], pick: (event: Event) => string | false, capture = false): TriggerSetup {
  return (trigger) => {
    const node = typeof window === 'object' ? window : undefined;
    if (!node) return undefined;
    const handler = (event: Event) => {
      const source = pick(event);
      if (source) trigger(source);
    };
    for (const type of types) node.addEventListener(type, handler, capture);
    return () => {
      for (const type of types) node.removeEventListener(type, handler, capture);
    };
  };
}

/**
 * The browser's moments to re-check a token: background tabs throttle timers and laptops
 * sleep, so a tab that returns must look at its clock at once rather than trust a timer.
 * `visibilitychange` bubbles from the document to `window`; element focus does not.
 */
export const browserTriggers: TriggerSetup = listen(
  ['visibilitychange', 'focus', 'online', 'pageshow'],
  (event) =>
    (event.type === 'visibilitychange' ? document.visibilityState === 'visible' : event.type !== 'pageshow' || (event as PageTransitionEvent).persisted) &&
    event.type,
);

/**
 * Signs of a person at the page (pointer, keys, touch, wheel): what the BFF's idle timeout
 * measures, so that a forgotten tab whose timer keeps refreshing does not count as use.
 */
export const browserActivity: TriggerSetup = listen(['pointerdown', 'keydown', 'wheel', 'touchstart'], () => 'activity', true);
