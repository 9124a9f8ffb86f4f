import { render } from 'preact';
import * as z from 'zod';
import { CofferApi } from './api-client.ts';
import { App } from './app.tsx';

/**
 * Where the API is: `config.json` beside the page (the AWS deployment writes the API's URL, its region and the signing
 * name `execute-api` there); empty, the console's own origin (the local server, signed as `coffer`).
 */
const Config = z.object({
  apiUrl: z.string().optional(),
  region: z.string().optional(),
  signingService: z.enum(['execute-api', 'coffer']).optional(),
});

async function start(): Promise<void> {
  let apiUrl = '';
  let signing = { region: '', service: 'coffer' };
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    if (response.ok) {
      const config = Config.parse(await response.json());
      apiUrl = (config.apiUrl ?? '').replace(/\/+$/, '');
      signing = { region: config.region ?? '', service: config.signingService ?? 'coffer' };
    }
  } catch {
    // No config: the API is on this origin.
  }
  const root = document.getElementById('app');
  if (root !== null) render(<App api={new CofferApi(apiUrl)} signing={signing} />, root);
}

void start();
