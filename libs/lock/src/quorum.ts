/** The majority of `members` lock servers: ⌊n/2⌋ + 1. */
export function quorumOf(members: number): number {
  return Math.floor(members / 2) + 1;
}

/**
 * Waits for the answers of `tasks` (which never reject) and resolves with `decide`'s verdict as
 * soon as it has one — a majority does not wait for a slow minority. `decide` is called after
 * every answer with the answers so far and how many are still out, and must decide once none is.
 */
export function gather<T, V>(
  tasks: readonly Promise<T>[],
  decide: (answers: readonly T[], pending: number) => V | undefined,
): Promise<V> {
  return new Promise((resolve) => {
    const answers: T[] = [];
    let settled = false;
    const settle = () => {
      if (settled) return;
      const verdict = decide(answers, tasks.length - answers.length);
      if (verdict !== undefined) {
        settled = true;
        resolve(verdict);
      }
    };
    if (tasks.length === 0) settle();
    for (const task of tasks) {
      void task.then((answer) => {
        answers.push(answer);
        settle();
      });
    }
  });
}

/** One server's answer to a step that needs a majority: done, or why not. */
export type MajorityAnswer = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** True once a majority of `members` answered ok; else, once that cannot happen, why not. */
export function decideMajority(
  answers: readonly MajorityAnswer[],
  pending: number,
  members: number,
): true | string | undefined {
  const quorum = quorumOf(members);
  const ok = answers.filter((answer) => answer.ok).length;
  if (ok >= quorum) return true;
  if (ok + pending >= quorum) return undefined;
  const failures = answers.flatMap((answer) => (answer.ok ? [] : [answer.reason]));
  const reasons = [...new Set(failures)].join('; ');
  return members === 1 ? reasons : `${failures.length} of ${members} lock servers refused: ${reasons}`;
}

/** Runs `tasks` (which never reject) and resolves with `decideMajority`'s verdict as soon as there is one. */
export function onMajority(tasks: readonly Promise<MajorityAnswer>[]): Promise<true | string> {
  return gather(tasks, (answers, pending) => decideMajority(answers, pending, tasks.length));
}

/** Maps a promise to a `MajorityAnswer`: ok when it resolves, its error message when it rejects. */
export function asAnswer(promise: Promise<unknown>): Promise<MajorityAnswer> {
  return promise.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, reason: error instanceof Error ? error.message : String(error) }),
  );
}
