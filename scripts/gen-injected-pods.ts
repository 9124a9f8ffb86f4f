// `npm run injected-pods`: regenerates the injected pods of docs/kubernetes-injected-pods.md from the injector.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withInjectedPods } from './injected-pods.ts';

const target = path.resolve(import.meta.dirname, '../docs/kubernetes-injected-pods.md');
writeFileSync(target, withInjectedPods(readFileSync(target, 'utf8')));
console.log(`wrote ${target}`);
