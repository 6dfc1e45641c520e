/** Small promise helpers for calling grpc-js clients from tests. */
import type { Client, ServiceError } from '@grpc/grpc-js';

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res?: Res) => void) => unknown;
type Methods<C> = { [K in keyof C]: C[K] extends Unary<infer _Q, infer _S> ? K : never }[keyof C];
type ReqOf<F> = F extends (req: infer Q, cb: (err: ServiceError | null, res?: infer _S) => void) => unknown ? Q : never;
type ResOf<F> = F extends (req: infer _Q, cb: (err: ServiceError | null, res?: infer S) => void) => unknown ? S : never;

/** Promise form of a unary call: call(client, 'CreateVolume', req). */
export function call<C extends Client, M extends Methods<C> & string>(
  client: C,
  method: M,
  req: ReqOf<C[M]>,
): Promise<NonNullable<ResOf<C[M]>>> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Unary<unknown, unknown>>)[method];
    if (!fn) throw new Error(`no method ${method}`);
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res as NonNullable<ResOf<C[M]>>)));
  });
}

/** An error's message, or the value as JSON when something else was thrown. */
const errorText = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);

/** Polls until fn returns a truthy value (or resolves to one) or the time runs out. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs: number,
  describe?: () => string,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(
        `timed out after ${timeoutMs} ms${describe ? `: ${describe()}` : ''}${last ? ` (last error: ${errorText(last)})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
