import { describe, expect, it } from 'vitest';
import { awsEmulator } from '../../support/aws-emulator.ts';

describe('awsEmulator', () => {
  it('refuses outside the projects that start an emulator, rather than leave the SDK to find real AWS', () => {
    expect(() => awsEmulator()).toThrow(/needs the AWS emulator: add it to AWS_SUITES in vitest\.config\.ts/);
  });
});
