/**
 * Polls of one thing that arrive together share one read: while a read of a key is in flight,
 * callers of that key wait for the next one, which starts when it ends and serves them all. Not
 * the read in flight: it may have started before a change the caller has already seen committed
 * (a poll right after a write must see the write), whereas the next read starts after every
 * caller waiting for it has asked. So a read answers at most two database statements late, never
 * with data older than the caller's request; and ten tabs on one job cost about one read per
 * statement's time, not ten.
 */
type Flight = { running: Promise<unknown>; queued: Promise<unknown> | null };

export type ReadCoalescer = <T>(key: string, read: () => Promise<T>) => Promise<T>;

/**
 * `key` must name everything `read` depends on (whose, which resource, which parameters): callers
 * of a key get the result of whichever of them reads. Results are shared: never mutate one.
 */
export function createReadCoalescer(): ReadCoalescer {
  const flights = new Map<string, Flight>();
  const ignore = () => {};

  function start<T>(key: string, read: () => Promise<T>): Promise<T> {
    const running = read();
    const flight: Flight = { running, queued: null };
    flights.set(key, flight);
    const landed = () => {
      if (flights.get(key) === flight) flights.delete(key);
    };
    running.then(landed, landed);
    return running;
  }

  return <T>(key: string, read: () => Promise<T>): Promise<T> => {
    const flight = flights.get(key);
    if (!flight) return start(key, read);
    flight.queued ??= flight.running.then(ignore, ignore).then(() => start(key, read));
    return flight.queued as Promise<T>;
  };
}
