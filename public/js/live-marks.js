import { getJson } from './api.js';

const IN_FLIGHT = 4;

/**
 * Marks the stream links (`a[data-user][data-profile]`) of `userIds`' pairs that are live now, from
 * each user's `GET /main/login/:userId` answer; every other link loses the mark. Resolves to the
 * live pairs found, `{userId, profileId, pod}`.
 */
export async function markLivePairs(root, userIds) {
  const queue = [...new Set(userIds)];
  const live = [];
  const worker = async () => {
    for (let userId = queue.shift(); userId !== undefined; userId = queue.shift()) {
      try {
        const login = await getJson(`/main/login/${encodeURIComponent(userId)}`);
        for (const active of login.activeProfiles) live.push({ userId, profileId: active.profileId, pod: active.pod });
      } catch {
        // An unknown or deleted user has nothing live; an outage leaves the marks as they were.
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const byPair = new Map(live.map((pair) => [`${pair.userId}/${pair.profileId}`, pair]));
  for (const link of root.querySelectorAll('a[data-user][data-profile]')) {
    const pair = byPair.get(`${link.dataset.user}/${link.dataset.profile}`);
    link.classList.toggle('live', pair !== undefined);
    if (pair) link.title = `live on pod ${pair.pod}`;
    else link.removeAttribute('title');
  }
  return live;
}
