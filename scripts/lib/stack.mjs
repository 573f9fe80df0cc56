/**
 * What a run command started, stopped in reverse order exactly once — on success, failure,
 * Ctrl-C or SIGTERM — so no JVM or redis-server is left behind.
 */
export class Stack {
  #stops = [];
  #stopping;

  push(name, stop) {
    this.#stops.push({ name, stop });
  }

  stopAll() {
    this.#stopping ??= (async () => {
      for (const { name, stop } of this.#stops.reverse()) {
        try {
          await stop();
        } catch (error) {
          console.error(`[kubescaler] stopping ${name} failed: ${error.message}`);
        }
      }
    })();
    return this.#stopping;
  }

  /** Stops everything and exits on SIGINT/SIGTERM. */
  stopOnSignals(onSignal = () => {}) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(signal, async () => {
        onSignal(signal);
        await this.stopAll();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    }
  }
}
