// `npm run asl`: regenerates the rotation state machine definition the local runner executes, from the CDK construct
// (`lib/coffer-rotation.ts`). A unit test re-synthesises it and fails when the committed file has drifted.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ROTATION_ASL_PATH, synthesiseRotationDefinition } from '../lib/rotation-definition.ts';

writeFileSync(ROTATION_ASL_PATH, `${JSON.stringify(synthesiseRotationDefinition(), null, 2)}\n`);
// In the repository's JSON style, so `biome check` passes on the committed file.
const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
execFileSync(process.execPath, [biome, 'format', '--write', ROTATION_ASL_PATH], { stdio: 'inherit' });
console.log(`wrote ${ROTATION_ASL_PATH}`);
