/**
 * One promise per key inside this process: while a refresh for a family runs, every other
 * request for that family awaits the same promise instead of spending the refresh token again.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Promise<T>>();

  /** Runs `work` unless a run for `key` is under way, in which case it joins that run. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.#flights.get(key);
    if (existing) return existing;
    const flight = work().finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return flight;
  }
}
