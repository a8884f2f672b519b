/**
 * Group commit as the bench floors do it (limit-server.ts --durable, fetch-loop.ts with `durable`): what is
 * handed in during one turn of the event loop is committed together once the turn ends, and each caller's
 * promise settles after that commit.
 */
export function commitPerTurn<T>(commit: (batch: readonly T[]) => void): (item: T) => Promise<void> {
  let waiting: { item: T; resolve(): void }[] = [];
  const flush = () => {
    const batch = waiting;
    waiting = [];
    commit(batch.map((entry) => entry.item));
    for (const entry of batch) entry.resolve();
  };
  return (item) =>
    new Promise((resolve) => {
      waiting.push({ item, resolve });
      if (waiting.length === 1) setImmediate(flush);
    });
}
