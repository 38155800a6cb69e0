// One turn of the Node.js event loop, for long loops of tensor work.

/**
 * Resolves on the event loop's next turn (after pending timers and I/O callbacks have run).
 * Training loops await it once per step: a step's own awaits resolve as microtasks, which never
 * let the loop turn, so a Ctrl-C handler (interruptOnSigint) or a timer would otherwise wait
 * until the next real file write, which can be many steps later.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
