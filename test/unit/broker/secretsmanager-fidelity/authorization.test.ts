import { describe, expect, it } from 'vitest';
import { fidelityNode } from './harness.ts';

/** The answers AWS gives that could tell a caller about secrets: authorisation still comes first. */
describe('Secrets Manager fidelity keeps authorisation', () => {
  it('refuses a forced deletion of a missing secret to a caller who may not delete the name', async () => {
    const node = await fidelityNode();
    const outsider = await node.tokenFor([{ path: 'secrets/other/*', capabilities: ['delete'] }]);
    for (const SecretId of ['app/gone', 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app/gone-abcdef']) {
      const res = await node.call('DeleteSecret', { SecretId, ForceDeleteWithoutRecovery: true }, outsider);
      expect({ status: res.status, type: JSON.parse(res.body).__type }).toEqual({
        status: 400,
        type: 'AccessDeniedException',
      });
    }
    const allowed = await node.tokenFor([{ path: 'secrets/app/*', capabilities: ['delete'] }]);
    const res = await node.call('DeleteSecret', { SecretId: 'app/gone', ForceDeleteWithoutRecovery: true }, allowed);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      Name: 'app/gone',
      ARN: expect.stringMatching(/:secret:app\/gone-\w{6}$/),
    });
    // Nothing was created by answering.
    const described = await node.call('DescribeSecret', { SecretId: 'app/gone' });
    expect(JSON.parse(described.body).__type).toBe('ResourceNotFoundException');
  });

  it('answers a name AWS refuses with its name rule for any caller, never with a denial', async () => {
    const node = await fidelityNode();
    const nobody = await node.tokenFor([{ path: 'secrets/other/*', capabilities: ['read'] }]);
    for (const token of [undefined, nobody]) {
      const created = await node.call('CreateSecret', { Name: 'my secret', SecretString: 'x' }, token);
      const read = await node.call('GetSecretValue', { SecretId: 'my secret' }, token);
      for (const res of [created, read]) {
        expect({ status: res.status, type: JSON.parse(res.body).__type }).toEqual({
          status: 400,
          type: 'ValidationException',
        });
      }
    }
  });
});
