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
  #cleanup: (() => void) | undefined;

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
    if (this.#cleanup) {
      this.#detach();
      this.#attach();
    }
  }

  #attach() {
    this.#cleanup = this.#setup((source) => {
      for (const listener of this.#listeners) listener(source);
    }) ?? (() => {});
  }

  #detach() {
    this.#cleanup?.();
    this.#cleanup = undefined;
  }
}

/**
 * The browser's moments to re-check a token: background tabs throttle timers and laptops
 * sleep, so a tab that returns must look at its clock at once rather than trust a timer.
 */
export const browserTriggers: TriggerSetup = (trigger) => {
  if (typeof window === 'undefined' || typeof document === 'undefined') return undefined;
  const onVisibility = () => {
    if (document.visibilityState === 'visible') trigger('visibilitychange');
  };
  const onFocus = () => trigger('focus');
  const onOnline = () => trigger('online');
  const onPageShow = (event: PageTransitionEvent) => {
    if (event.persisted) trigger('pageshow');
  };
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('focus', onFocus);
  window.addEventListener('online', onOnline);
  window.addEventListener('pageshow', onPageShow);
  return () => {
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('focus', onFocus);
    window.removeEventListener('online', onOnline);
    window.removeEventListener('pageshow', onPageShow);
  };
};
