import { render } from 'preact';
import * as z from 'zod';
import { CofferApi } from './api-client.ts';
import { App } from './app.tsx';

/**
 * Where the API is: `config.json` beside the page (the AWS deployment writes the API's URL there); empty, the
 * console's own origin (the local server).
 */
const Config = z.object({ apiUrl: z.string().optional() });

async function start(): Promise<void> {
  let apiUrl = '';
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    if (response.ok) apiUrl = (Config.parse(await response.json()).apiUrl ?? '').replace(/\/+$/, '');
  } catch {
    // No config: the API is on this origin.
  }
  const root = document.getElementById('app');
  if (root !== null) render(<App api={new CofferApi(apiUrl)} />, root);
}

void start();
