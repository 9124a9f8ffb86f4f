import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExtensionLayer, CofferExtensionLayer } from '../../../lib/extension-layer.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-layer-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('Construct: CofferExtensionLayer', () => {
  let layerDir: string;
  beforeAll(() => {
    layerDir = tempDir();
    buildExtensionLayer(layerDir);
  });

  it('lays out an executable launcher in extensions/ named as the extension registers itself', () => {
    const launcher = path.join(layerDir, 'extensions', 'coffer-extension');
    expect(fs.statSync(launcher).mode & 0o111).toBe(0o111);
    expect(fs.readFileSync(launcher, 'utf8')).toContain('/opt/coffer-extension/index.mjs');
    expect(fs.existsSync(path.join(layerDir, 'coffer-extension', 'index.mjs'))).toBe(true);
    expect(fs.readdirSync(layerDir).sort()).toEqual(['coffer-extension', 'extensions']);
  });

  it('bundles an extension that runs on plain node (it refuses to start outside Lambda)', () => {
    const run = spawnSync(process.execPath, [path.join(layerDir, 'coffer-extension', 'index.mjs')], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('AWS_LAMBDA_RUNTIME_API is not set');
  });

  it('synthesises a LayerVersion for the Node.js runtimes on both architectures', () => {
    const app = new App({ outdir: tempDir() });
    const stack = new Stack(app, 'Test');
    const ext = new CofferExtensionLayer(stack, 'Ext');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs22.x', 'nodejs24.x'],
      CompatibleArchitectures: ['x86_64', 'arm64'],
      LicenseInfo: 'Apache-2.0',
    });
    template.hasResource('AWS::Lambda::LayerVersion', { DeletionPolicy: 'Retain' });
    expect(ext.layer.layerVersionArn).toBeDefined();
    expect(CofferExtensionLayer.environment({ cofferAddr: 'https://x/prod' })).toEqual({
      COFFER_ADDR: 'https://x/prod',
      COFFER_SIGNING_SERVICE: 'execute-api',
    });
  });
});
