/** A container's `env` entry, as the manifests write it. */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
  };
}

export interface ContainerEnvSpec {
  readonly env?: readonly EnvVar[];
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

export interface PodContext {
  /** Downward-API values by field path (`metadata.name`, `metadata.namespace`). */
  readonly fields: Readonly<Record<string, string>>;
  /** The Secrets that exist, as `<secret>/<key>` → value. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Where each volume is on this machine, by volume name: mount paths in values are rewritten to it. */
  readonly volumes?: Readonly<Record<string, string>>;
}

/**
 * A container's environment as the kubelet builds it from the manifest: in order, `$(VAR)` expanded from the variables
 * defined before it (an unknown reference stays as written), downward-API fields, Secret keys (an optional key of a
 * missing Secret leaves the variable out; a required one fails the container, so it throws here).
 */
export function containerEnvironment(container: ContainerEnvSpec, pod: PodContext): Record<string, string> {
  const env: Record<string, string> = {};
  const expand = (value: string) =>
    value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
  const local = (value: string) => {
    for (const mount of container.volumeMounts ?? []) {
      if (pod.volumes === undefined) break;
      if (value !== mount.mountPath && !value.startsWith(`${mount.mountPath}/`)) continue;
      const dir = pod.volumes[mount.name];
      if (dir === undefined) throw new Error(`no local directory for the volume ${mount.name}`);
      return dir + value.slice(mount.mountPath.length);
    }
    return value;
  };
  for (const variable of container.env ?? []) {
    const { fieldRef, secretKeyRef } = variable.valueFrom ?? {};
    if (variable.value !== undefined) env[variable.name] = local(expand(variable.value));
    else if (fieldRef !== undefined) {
      const field = pod.fields[fieldRef.fieldPath];
      if (field === undefined) throw new Error(`no value for the field ${fieldRef.fieldPath}`);
      env[variable.name] = field;
    } else if (secretKeyRef !== undefined) {
      const secret = pod.secrets?.[`${secretKeyRef.name}/${secretKeyRef.key}`];
      if (secret !== undefined) env[variable.name] = secret;
      else if (secretKeyRef.optional !== true) {
        throw new Error(`${variable.name} needs the Secret ${secretKeyRef.name} (key ${secretKeyRef.key})`);
      }
    } else throw new Error(`${variable.name} has no value the test can provide`);
  }
  return env;
}
