import { EventEmitter } from 'eventemitter3';

type Listener = (...args: never[]) => unknown;
type AnyListener = (...args: unknown[]) => unknown;

/**
 * An eventemitter3 emitter whose listeners run each on its own: a listener that throws or returns a rejected
 * promise is reported to {@link IsolatingEmitter.listenerFailed} and the others still run. Every listener is
 * wrapped when it is added (through the public API only), so the emitter's own dispatch stays eventemitter3's.
 */
export abstract class IsolatingEmitter<
  Events extends EventEmitter.ValidEventTypes,
> extends EventEmitter<Events> {
  /** The wrapper of each listener, by event: removing a listener removes its wrapper. */
  readonly #wrappers = new WeakMap<Listener, Map<unknown, AnyListener>>();
  readonly #originals = new WeakMap<AnyListener, Listener>();

  /** Reports a listener's failure; must not throw. */
  protected abstract listenerFailed(error: unknown, event: EventEmitter.EventNames<Events>): void;

  /** Whether anyone listens to `event`: payloads are built only for events someone will receive. */
  protected wants(event: EventEmitter.EventNames<Events>): boolean {
    return this.listenerCount(event) > 0;
  }

  /** Adds a listener; a listener that throws or rejects is reported and the others still run. */
  override on<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.#wrap(event, fn as Listener) as never, context);
  }

  /** Adds a listener, as `on` does. */
  override addListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return this.on(event, fn, context);
  }

  /** Adds a listener that runs once, isolated from the others. */
  override once<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return super.once(event, this.#wrap(event, fn as Listener) as never, context);
  }

  /** Removes a listener added with `on`, `addListener` or `once` (by the function given then). */
  override removeListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const wrapper = fn === undefined ? undefined : this.#wrappers.get(fn as Listener)?.get(event);
    return super.removeListener(event, (wrapper ?? fn) as never, context, once);
  }

  /** Removes a listener, as `removeListener` does. */
  override off<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.removeListener(event, fn, context, once);
  }

  /** The listeners of an event, as they were added. */
  override listeners<T extends EventEmitter.EventNames<Events>>(
    event: T,
  ): Array<EventEmitter.EventListener<Events, T>> {
    return super
      .listeners(event)
      .map((listener) => (this.#originals.get(listener as AnyListener) ?? listener) as never);
  }

  /** The one wrapper of `fn` for `event` (the same function added twice is one wrapper added twice). */
  #wrap(event: EventEmitter.EventNames<Events>, fn: Listener): AnyListener {
    let byEvent = this.#wrappers.get(fn);
    if (byEvent === undefined) {
      byEvent = new Map();
      this.#wrappers.set(fn, byEvent);
    }
    const known = byEvent.get(event);
    if (known !== undefined) return known;
    const report = (error: unknown): void => this.listenerFailed(error, event);
    const original = fn as AnyListener;
    const wrapper = function (this: unknown, ...args: unknown[]): void {
      try {
        const result = original.apply(this, args);
        if (result instanceof Promise) result.catch(report);
      } catch (error) {
        report(error);
      }
    };
    byEvent.set(event, wrapper);
    this.#originals.set(wrapper, fn);
    return wrapper;
  }
}
