/** The PKI roles: what each may issue (names, key types, lifetimes, usages), kept one per item. */
import type { Store } from '../../core/ports/store.ts';
import { EngineRoles } from '../shared/engine-roles.ts';
import { PK_ROLE } from './pki-records.ts';
import { type PkiRole, type PkiRoleInput, PkiRoleSchema } from './pki-role.ts';

export class RoleService extends EngineRoles<PkiRole, PkiRoleInput> {
  constructor(store: Store) {
    super({ store, pk: PK_ROLE, schema: PkiRoleSchema, noun: 'PKI role', invalidNoun: 'role' });
  }
}
