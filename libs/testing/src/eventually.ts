/** Retries `attempt` every `everyMs` until it resolves; rethrows its last failure after `timeoutMs`. */
export async function eventually<T>(attempt: () => Promise<T>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (performance.now() > deadline) throw error;
    }
    await new Promise((done) => setTimeout(done, everyMs));
  }
}
