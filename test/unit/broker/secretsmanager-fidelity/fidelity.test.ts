import { describe, expect, it } from 'vitest';
import { chosenIds, fidelityNode, loadFixtures, normalise } from './harness.ts';

/**
 * One table per operation: every case of `test/fixtures/secretsmanager/<Operation>.json` answers exactly as AWS
 * answered it (status, Content-Type and x-amzn-RequestId, and the whole body), ids and dates aside.
 */
for (const file of loadFixtures()) {
  describe(`Secrets Manager ${file.operation} answers as AWS`, () => {
    it.each(file.cases.map((c) => [c.name, c] as const))('%s', async (_name, fixtureCase) => {
      const node = await fidelityNode();
      for (const step of fixtureCase.setup ?? []) {
        const res = await node.call(step.operation, step.body);
        expect({ step: step.operation, status: res.status, body: res.body }).toMatchObject({ status: 200 });
      }
      const token = fixtureCase.caller === undefined ? undefined : await node.tokenFor(fixtureCase.caller);
      const res = await node.call(file.operation, fixtureCase.request, token);
      const chosen = chosenIds(fixtureCase);
      expect({
        status: res.status,
        headers: normalise(
          Object.fromEntries(Object.keys(file.headers).map((name) => [name, res.headers[name]])),
          chosen,
        ),
        body: normalise(JSON.parse(res.body), chosen),
      }).toEqual({ status: fixtureCase.response.status, headers: file.headers, body: fixtureCase.response.body });
    });
  });
}

describe('Secrets Manager fidelity fixtures', () => {
  it('cite where every recorded answer comes from', () => {
    const files = loadFixtures();
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      for (const c of file.cases)
        expect({ operation: file.operation, case: c.name, source: c.source }).toMatchObject({
          source: expect.stringMatching(/\S{10}/),
        });
    }
  });
});
