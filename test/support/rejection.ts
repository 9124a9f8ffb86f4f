/**
 * What `promise` rejects with, for assertions on the error's class, name, message and cause together.
 * @throws Error when the promise resolves instead
 *
 * @example
 * const err = await rejectionOf(launcher.launch(input));
 * expect(err).toBeInstanceOf(TransientRotationError);
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}
