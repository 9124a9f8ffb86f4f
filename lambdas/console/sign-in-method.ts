/** The sign-in form's option for a token pasted in (no login mount's path is empty). */
export const TOKEN_SIGN_IN = '';
/** The option for AWS credentials or a Coffer access key (a mount path never holds a space). */
export const CREDENTIALS_SIGN_IN = 'aws credentials';

/**
 * The method the sign-in form opens on. Behind API Gateway every call but the logins is SigV4-signed by IAM, so a
 * token alone reaches nothing there: the form opens on AWS credentials; elsewhere, on a token.
 */
export function defaultSignInMethod(signing: { readonly service: string }): string {
  return signing.service === 'execute-api' ? CREDENTIALS_SIGN_IN : TOKEN_SIGN_IN;
}
