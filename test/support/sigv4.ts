import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** Sends a SigV4-signed request to the native API, signed exactly as an AWS SDK would (service `coffer`). */
export async function signedFetch(
  address: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, address);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const request = new HttpRequest({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: {
      host: url.host,
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: payload,
  });
  const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 'coffer', sha256: Sha256 });
  const signed = await signer.sign(request);
  const res = await fetch(url, { method, headers: signed.headers as Record<string, string>, body: payload });
  const text = await res.text();
  return { status: res.status, body: text.length === 0 ? {} : JSON.parse(text) };
}
