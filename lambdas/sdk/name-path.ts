/**
 * Encodes each segment of a secret name for a URL path of the native API, keeping '/' as the separator.
 * @example namePath('apps/web app') // 'apps/web%20app'
 */
export function namePath(name: string): string {
  return name
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}
