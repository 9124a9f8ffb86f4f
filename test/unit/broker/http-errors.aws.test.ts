import { describe, expect, it } from 'vitest';
import { awsJsonErrorBody, toAwsJsonError, toHttpError } from '../../../lambdas/broker/http-errors.ts';
import { SigV4Error } from '../../../lambdas/core/auth/sigv4/sigv4-verifier.ts';
import {
  AlreadyExistsError,
  AuditUnavailableError,
  DecryptionFailureError,
  DependencyUnavailableError,
  InternalError,
  InvalidRequestError,
  LimitExceededError,
  NotFoundError,
  PermissionDeniedError,
  StorageUnavailableError,
  ThrottledError,
  ValidationError,
} from '../../../lambdas/core/errors.ts';

describe('Function: toAwsJsonError', () => {
  it.each([
    [new NotFoundError('x'), 400, 'ResourceNotFoundException'],
    [new AlreadyExistsError('x'), 400, 'ResourceExistsException'],
    [new InvalidRequestError('x'), 400, 'InvalidRequestException'],
    [new ValidationError('x'), 400, 'InvalidParameterException'],
    [new PermissionDeniedError('x'), 400, 'AccessDeniedException'],
    [new DecryptionFailureError('x'), 400, 'DecryptionFailure'],
    [new LimitExceededError('x'), 400, 'LimitExceededException'],
    [new SigV4Error('InvalidSignatureException', 'x'), 403, 'InvalidSignatureException'],
    [new SigV4Error('IncompleteSignature', 'x'), 403, 'IncompleteSignature'],
    [new ValidationError('x', { details: { malformed: 'serialization' } }), 400, 'SerializationException'],
    [new ValidationError('x', { details: { malformed: 'body' } }), 400, 'ValidationException'],
    [new ValidationError('x', { details: { awsType: 'InvalidNextTokenException' } }), 400, 'InvalidNextTokenException'],
  ])('maps %o to %i %s', (err, status, type) => {
    expect(toAwsJsonError(err)).toMatchObject({ status, type, message: 'x' });
  });

  it('answers throttling as AWS words it', () => {
    expect(toAwsJsonError(new ThrottledError('x'))).toMatchObject({
      status: 400,
      type: 'ThrottlingException',
      message: 'Rate exceeded',
    });
  });

  it('hides server failures behind InternalServiceError', () => {
    expect(toAwsJsonError(new Error('disk says /secret/path'))).toEqual({
      status: 500,
      type: 'InternalServiceError',
      message: 'internal error',
      exposed: false,
    });
    expect(toAwsJsonError(new AuditUnavailableError('audit log unavailable')).type).toBe('InternalServiceError');
  });

  it('renders the JSON 1.1 error body', () => {
    expect(JSON.parse(awsJsonErrorBody(toAwsJsonError(new NotFoundError('gone'))))).toEqual({
      __type: 'ResourceNotFoundException',
      message: 'gone',
    });
  });
});

describe('Function: toHttpError', () => {
  it('answers a store that cannot be written with 503 and its message, as a state of the server', () => {
    const error = new StorageUnavailableError('the store cannot be written (SQLITE_FULL); the change was not applied');
    expect(toHttpError(error)).toMatchObject({
      status: 503,
      code: 'storage_unavailable',
      message: error.message,
      exposed: true,
    });
    expect(toAwsJsonError(error)).toMatchObject({ status: 500, type: 'InternalServiceError' });
  });

  it('answers a dependency throttled past its retries with 503, Retry-After and its message; a bug stays 500', () => {
    const error = new DependencyUnavailableError(
      'KMS GenerateDataKey is unavailable (ThrottlingException) after retries; the request was not completed: retry later',
      { details: { dependency: 'KMS' } },
    );
    expect(toHttpError(error)).toEqual({
      status: 503,
      code: 'dependency_unavailable',
      message: error.message,
      exposed: true,
      retryAfterSeconds: 1,
    });
    // Secrets Manager's documented type, with a status its SDKs retry.
    expect(toAwsJsonError(error)).toMatchObject({ status: 503, type: 'InternalServiceError', message: error.message });
    expect(toHttpError(new InternalError('KMS GenerateDataKey: KMS denied the request'))).toEqual({
      status: 500,
      code: 'internal',
      message: 'internal error',
      exposed: false,
    });
  });

  it('answers a throttled write with 429, as a limit', () => {
    expect(toHttpError(new ThrottledError('slow down'))).toMatchObject({ status: 429, code: 'throttled' });
  });
});
