import * as z from 'zod';

/** What a response-wrapped answer carries instead of the answer (Vault's `wrap_info`). */
export const WrapInfo = z.object({
  token: z
    .string()
    .describe('Single-use wrapping token: `POST /v1/sys/wrapping/unwrap` with it returns the answer once'),
  accessor: z.string(),
  ttl: z.number().describe('Seconds until the wrapped answer is gone'),
  creation_time: z.string(),
  creation_path: z.string().describe('The policy path of the operation whose answer is wrapped'),
});
export type WrapInfo = z.infer<typeof WrapInfo>;

export const Wrapped = z.object({ wrap_info: WrapInfo });
export type Wrapped = z.infer<typeof Wrapped>;

export const WrapLookup = z.object({
  creation_time: z.string(),
  creation_ttl: z.number(),
  creation_path: z.string(),
});
export type WrapLookup = z.infer<typeof WrapLookup>;

/** The wrapped answer, as the wrapped operation gave it. */
export const Unwrapped = z.record(z.string(), z.unknown());
