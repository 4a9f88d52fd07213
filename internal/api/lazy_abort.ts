// An AbortSignal made when it is first read (issue 17). On this machine an
// AbortController costs 4 µs and a linked one with its listeners about 20;
// most unary calls never read their signals. An abort before the first read
// is remembered, so a signal read late is already aborted, with the first
// reason given, as an AbortController would be.
export class LazyAbortSignal {
  #controller: AbortController | undefined;
  #reason: unknown;

  /** `make`: the controller to hand out (a plain one, or one linked to other signals). */
  constructor(private readonly make: () => AbortController = () => new AbortController()) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = this.make();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.#reason ??= reason;
  }
}
