// `npm run openapi`: regenerates docs/openapi.json from the route table's schemas.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildOpenApi } from '../lambdas/broker/openapi.ts';
import { API_VERSION, nativeRoutes } from '../lambdas/broker/routes/index.ts';

const target = path.resolve(import.meta.dirname, '../docs/openapi.json');
writeFileSync(target, `${JSON.stringify(buildOpenApi(nativeRoutes(), API_VERSION), null, 2)}\n`);
console.log(`wrote ${target}`);
