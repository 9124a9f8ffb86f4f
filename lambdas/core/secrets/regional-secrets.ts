import { checkRegion } from '../regions.ts';
import { SECRET_REGIONS_PARTITION } from './replication/replica-marking-store.ts';
import { type SecretPartitions, secretPartitionsFor } from './secret-partitions.ts';
import { SecretService, type SecretServiceOptions } from './secret-service.ts';

export interface RegionalSecretsOptions
  extends Omit<SecretServiceOptions, 'region' | 'partitions' | 'onReplicatedWrite'> {
  /** The node's own region: the native API's default, and where rotation, leases and the engines keep secrets. */
  readonly homeRegion: string;
  /** The regions the node serves. @default any region in AWS's name form */
  readonly regions?: readonly string[] | undefined;
  /**
   * The region whose secrets live in the partitions a store had before regions (`HOME_PARTITIONS`). Every node
   * sharing a store must agree on it: on AWS, a replica region's broker reads and writes the same global table as the
   * primary deployment's, whose region it names here. @default homeRegion
   */
  readonly storeRegion?: string | undefined;
}

/**
 * Every region's secrets, as AWS keeps them: one `SecretService` per region, each over its own partitions (see
 * `secret-partitions.ts`), built on first use. Names are unique per region; an ARN names its region.
 *
 * @example
 * ```ts
 * const regional = new RegionalSecrets({ store, keyProvider, clock, homeRegion: 'us-east-1' });
 * await regional.in('us-west-2').create({ name: 'dup' }); // beside a `dup` of us-east-1
 * ```
 */
export class RegionalSecrets {
  readonly homeRegion: string;
  readonly storeRegion: string;
  private readonly options: RegionalSecretsOptions;
  private readonly services = new Map<string, SecretService>();
  private readonly writeHooks: ((region: string, name: string) => void)[] = [];

  constructor(options: RegionalSecretsOptions) {
    this.options = options;
    this.homeRegion = checkRegion(options.homeRegion);
    this.storeRegion = checkRegion(options.storeRegion ?? options.homeRegion);
  }

  /** The home region's secrets. */
  get home(): SecretService {
    return this.in(this.homeRegion);
  }

  /**
   * The secrets of `region`.
   *
   * @throws ValidationError when `region` is not a region name, or not one the node serves
   */
  in(region: string): SecretService {
    const known = this.services.get(region);
    if (known !== undefined) return known;
    checkRegion(region, region === this.homeRegion ? undefined : this.options.regions);
    const { regions: _regions, homeRegion: _home, storeRegion: _store, ...shared } = this.options;
    const service = new SecretService({
      ...shared,
      region,
      partitions: this.partitionsOf(region),
      onReplicatedWrite: (name) => this.notifyReplicatedWrite(region, name),
    });
    this.services.set(region, service);
    return service;
  }

  /** Where `region`'s secrets live in the store. */
  partitionsOf(region: string): SecretPartitions {
    return secretPartitionsFor(region, this.storeRegion);
  }

  /** Calls `hook` after every committed write to a primary with replicas, in any region (the replication runner). */
  onReplicatedWrite(hook: (region: string, name: string) => void): void {
    this.writeHooks.push(hook);
  }

  /** Tells the hooks that a primary has replicas to bring in sync (the replication operations). */
  notifyReplicatedWrite(region: string, name: string): void {
    for (const hook of this.writeHooks) hook(region, name);
  }

  /** The home region and every region that holds or held a secret, home first. */
  async regions(): Promise<string[]> {
    const regions = [this.homeRegion];
    let startAfter: string | undefined;
    do {
      const page = await this.options.store.query<{ region: string }>(SECRET_REGIONS_PARTITION, {
        limit: 1000,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      for (const { data } of page.items) if (data.region !== this.homeRegion) regions.push(data.region);
      startAfter = page.lastKey;
    } while (startAfter !== undefined);
    return regions;
  }

  /** Purges expired secrets in every region; returns how many. */
  async purgeExpired(): Promise<number> {
    let purged = 0;
    for (const region of await this.regions()) purged += await this.in(region).purgeExpired();
    return purged;
  }

  /** Re-wraps every region's data keys under the current root key (a `DataKeyHolder`). */
  async rewrapAll(): Promise<{ rewrapped: number }> {
    let rewrapped = 0;
    for (const region of await this.regions()) rewrapped += (await this.in(region).rewrapAll()).rewrapped;
    return { rewrapped };
  }
}
