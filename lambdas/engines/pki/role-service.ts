/** The PKI roles: what each may issue (names, key types, lifetimes, usages), kept one per item. */
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { ConditionFailedError, type Store } from '../../core/ports/store.ts';
import { PK_ROLE, queryAll } from './pki-records.ts';
import { type PkiRole, type PkiRoleInput, PkiRoleSchema, ROLE_NAME } from './pki-role.ts';

export class RoleService {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async put(name: string, input: PkiRoleInput): Promise<PkiRole> {
    checkRoleName(name);
    const parsed = PkiRoleSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`invalid role: ${issue.path.join('.') || 'role'}: ${issue.message}`);
    }
    await this.#store.transact([{ type: 'put', pk: PK_ROLE, sk: name, data: parsed.data }]);
    return parsed.data;
  }

  async get(name: string): Promise<PkiRole> {
    checkRoleName(name);
    const item = await this.#store.get<PkiRole>(PK_ROLE, name);
    if (item === undefined) throw new NotFoundError(`no PKI role "${name}"`);
    return item.data;
  }

  async delete(name: string): Promise<void> {
    checkRoleName(name);
    try {
      await this.#store.transact([{ type: 'delete', pk: PK_ROLE, sk: name, condition: { kind: 'exists' } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError(`no PKI role "${name}"`);
      throw err;
    }
  }

  async list(): Promise<string[]> {
    return (await queryAll(this.#store, PK_ROLE)).map((item) => item.sk);
  }
}

function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) throw new ValidationError('a role name is 1–128 letters, digits, "_", "." or "-"');
}
