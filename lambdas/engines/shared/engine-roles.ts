import type * as z from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { ConditionFailedError, type ItemData, queryAll, type Store } from '../../core/ports/store.ts';

/** What every engine's role names are: 1–128 letters, digits, `_`, `.` or `-`, starting with a letter or digit. */
export const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * An engine's roles, kept one per item of one partition: each written whole after its schema parsed it, read,
 * listed and deleted by name. The engines (PKI, SSH, OAuth) differ only in the partition, the schema and their noun.
 */
export class EngineRoles<Role extends object, Input = unknown> {
  readonly #store: Store;
  readonly #pk: string;
  readonly #schema: z.ZodType<Role, Input>;
  /** How errors name a role: `no ${noun} "x"` and `invalid ${invalidNoun}: …`. */
  readonly #noun: string;
  readonly #invalidNoun: string;

  constructor(options: {
    readonly store: Store;
    readonly pk: string;
    readonly schema: z.ZodType<Role, Input>;
    readonly noun: string;
    /** @default noun */
    readonly invalidNoun?: string;
  }) {
    this.#store = options.store;
    this.#pk = options.pk;
    this.#schema = options.schema;
    this.#noun = options.noun;
    this.#invalidNoun = options.invalidNoun ?? options.noun;
  }

  async put(name: string, input: Input): Promise<Role> {
    checkRoleName(name);
    const parsed = this.#schema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`invalid ${this.#invalidNoun}: ${issue.path.join('.') || 'role'}: ${issue.message}`);
    }
    await this.#store.transact([{ type: 'put', pk: this.#pk, sk: name, data: parsed.data as ItemData }]);
    return parsed.data;
  }

  async get(name: string): Promise<Role> {
    checkRoleName(name);
    const item = await this.#store.get<Role & ItemData>(this.#pk, name);
    if (item === undefined) throw new NotFoundError(`no ${this.#noun} "${name}"`);
    return item.data;
  }

  /** Deletes a role. Its live leases stay listed and revocable; nothing new is issued for it. */
  async delete(name: string): Promise<void> {
    checkRoleName(name);
    try {
      await this.#store.transact([{ type: 'delete', pk: this.#pk, sk: name, condition: { kind: 'exists' } }]);
    } catch (err) {
      if (err instanceof ConditionFailedError) throw new NotFoundError(`no ${this.#noun} "${name}"`);
      throw err;
    }
  }

  async list(): Promise<string[]> {
    return (await queryAll(this.#store, this.#pk)).map((item) => item.sk);
  }
}

function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) throw new ValidationError('a role name is 1–128 letters, digits, "_", "." or "-"');
}
