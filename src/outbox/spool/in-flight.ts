/**
 * Work under way that something must wait for before it goes on: a close waits for the writes, a journal segment's
 * removal for the reads of it.
 */
export class InFlight {
  readonly #running = new Set<Promise<unknown>>();

  /** Counts `work` until it settles; returns it unchanged (its failure is the caller's to handle). */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return work;
  }

  /** Resolves once nothing is under way, including work tracked while it waited. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }
}
