import { PermissionDeniedError } from '../../errors.ts';

/**
 * A refused login. The caller sees only `message`, one per method whatever went wrong (an unknown role id and a wrong
 * secret id answer alike, so a login is no oracle); `auditReason` says what went wrong, for the audit log only.
 * Neither holds credential material.
 */
export class LoginFailedError extends PermissionDeniedError {
  constructor(
    message: string,
    readonly auditReason: string,
    /** The matched role, once the credential named one. */
    readonly role?: string | undefined,
    /** Where the login was attempted, added by the mount service. */
    readonly mount?: { readonly type: string; readonly path: string } | undefined,
  ) {
    super(message);
  }

  /** The same refusal, placed at a mount. */
  at(mount: { readonly type: string; readonly path: string }): LoginFailedError {
    return new LoginFailedError(this.message, this.auditReason, this.role, mount);
  }

  /** What the audit log's `denied` says of it: method, mount, role and reason; never a credential. */
  get denial(): { path: string; capability: 'update'; reason: string } {
    const where = this.mount === undefined ? 'login' : `${this.mount.type} login at auth/${this.mount.path}`;
    const role = this.role === undefined ? '' : ` (role ${this.role})`;
    return {
      path: this.mount === undefined ? 'auth' : `auth/${this.mount.path}/login`,
      capability: 'update',
      reason: `${where}${role} refused: ${this.auditReason}`,
    };
  }
}
