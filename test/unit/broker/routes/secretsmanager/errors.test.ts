import { describe, expect, it } from 'vitest';
import { toAwsJsonError } from '../../../../../lambdas/broker/http-errors.ts';
import {
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  ThrottledError,
  ValidationError,
} from '../../../../../lambdas/core/errors.ts';
import { RateLimitedError } from '../../../../../lambdas/core/quota/quota-errors.ts';

describe('Secrets Manager error catalogue', () => {
  it('answers a condition of the core in AWS words, whatever the core says', () => {
    const err = new NotFoundError('secret app/db not found', { details: { reason: 'secret_not_found' } });
    expect(toAwsJsonError(err, 'secretsmanager.GetSecretValue')).toEqual({
      status: 400,
      type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
      exposed: true,
    });
  });

  it('words one condition as the operation does', () => {
    const err = new NotFoundError('version v of secret s not found', {
      details: { reason: 'version_not_found', versionId: 'v' },
    });
    expect(toAwsJsonError(err, 'secretsmanager.GetSecretValue')).toMatchObject({
      type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for VersionId: v",
    });
    expect(toAwsJsonError(err, 'secretsmanager.UpdateSecretVersionStage')).toMatchObject({
      type: 'InvalidParameterException',
      message: 'Not a valid version: v',
    });
    const noRotation = new InvalidRequestError('No rotation is configured', {
      details: { reason: 'rotation_not_configured' },
    });
    expect(toAwsJsonError(noRotation, 'secretsmanager.CancelRotateSecret').message).toMatch(/^You tried to enable/);
    // RotateSecret keeps the explanation of what Coffer needs.
    expect(toAwsJsonError(noRotation, 'secretsmanager.RotateSecret').message).toBe('No rotation is configured');
  });

  it("never names Coffer's parameter spellings", () => {
    for (const message of [
      'recoveryWindowDays must be between 7 and 30',
      "clientRequestToken must be 32–64 characters of letters, digits and '-'",
      'give moveToVersionId, removeFromVersionId or both',
    ]) {
      const answer = toAwsJsonError(new ValidationError(message), 'secretsmanager.DeleteSecret');
      expect(answer.type).toBe('InvalidParameterException');
      expect(answer.message).not.toMatch(/recoveryWindowDays|clientRequestToken|removeFromVersionId|moveToVersionId/);
      expect(answer.message).toMatch(/RecoveryWindowInDays|ClientRequestToken|RemoveFromVersionId/);
    }
  });

  it('answers a write rate exceeded with "Rate exceeded", as AWS; a quota keeps its name', () => {
    const quota = new RateLimitedError('quota sm allows 1 request under secrets/ per 1m', 'rate_limited', 60);
    expect(toAwsJsonError(quota, 'secretsmanager.GetSecretValue').message).toMatch(/^quota sm/);
    expect(
      toAwsJsonError(new ThrottledError('too many writes to secret app/db'), 'secretsmanager.PutSecretValue'),
    ).toEqual({
      status: 400,
      type: 'ThrottlingException',
      message: 'Rate exceeded',
      exposed: true,
    });
  });

  it("keeps a denial's message: its reason is a policy rule, not a condition", () => {
    const denied = new PermissionDeniedError('permission denied: read on secrets/x: no policy allows it', {
      details: { reason: 'secret_not_found' },
    });
    expect(toAwsJsonError(denied, 'secretsmanager.GetSecretValue')).toMatchObject({
      type: 'AccessDeniedException',
      message: 'permission denied: read on secrets/x: no policy allows it',
    });
  });
});
