// `npm run data-model`: regenerates docs/data-model.md from the partition registry.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderDataModel } from './data-model.ts';

const target = path.resolve(import.meta.dirname, '../docs/data-model.md');
writeFileSync(target, renderDataModel());
console.log(`wrote ${target}`);
