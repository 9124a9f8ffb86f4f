import type * as z from 'zod';
import { ValidationError } from '../core/errors.ts';

/**
 * A request that does not fit an AWS JSON 1.1 operation's model, answered as AWS answers it: one
 * `ValidationException` listing every broken constraint,
 *
 *   `2 validation errors detected: Value 'x' at 'filters.1.member.key' failed to satisfy constraint: Member must
 *   satisfy enum value set: [...]; Value null at 'secretId' failed to satisfy constraint: Member must not be null`
 *
 * with member paths in lower camel case and list positions counted from 1 (`<list>.<n>.member.<field>`), the forms
 * of AWS's model validation as recorded from real responses (moto `secretsmanager/responses.py` and
 * `models.get_random_password`, which copy them; LocalStack's recorded snapshots). A value of the wrong JSON type is
 * a `SerializationException`, as AWS's JSON protocol answers it before any constraint is looked at.
 *
 * Values are quoted as AWS quotes them, except members in `sensitive` (secret values), which AWS leaves out of the
 * message too (`Value at 'secretString' failed ...`).
 *
 * A schema may state the constraint itself (an issue message starting with `Member must`), or replace the whole
 * answer with one AWS gives in its own words (`params.aws = { type, message }` on a custom issue, e.g. the name rule).
 */
export function awsJsonValidationError(
  error: z.ZodError,
  input: unknown,
  sensitive: readonly string[],
): ValidationError {
  const own = error.issues.find(
    (issue): issue is z.core.$ZodIssueCustom => issue.code === 'custom' && isAwsAnswer(issue.params?.aws),
  );
  if (own !== undefined) {
    const answer = own.params!.aws as AwsAnswer;
    return new ValidationError(answer.message, {
      details: answer.type === 'ValidationException' ? { malformed: 'body' } : { awsType: answer.type },
    });
  }
  // JSON null is an absent member to AWS: "Value null ... must not be null", not a serialization error.
  const wrongType = error.issues.find((issue) => issue.code === 'invalid_type' && valueAt(input, issue.path) != null);
  if (wrongType?.code === 'invalid_type') {
    return new ValidationError(serializationMessage(valueAt(input, wrongType.path), wrongType.expected), {
      details: { malformed: 'serialization' },
    });
  }
  const lines = error.issues.map((issue) => {
    const value = valueAt(input, issue.path);
    const hidden = issue.path.some((key) => typeof key === 'string' && sensitive.includes(key));
    return `${quoted(value, hidden)} at '${memberPath(issue.path)}' failed to satisfy constraint: ${constraint(issue)}`;
  });
  const count = `${lines.length} validation error${lines.length === 1 ? '' : 's'} detected: `;
  return new ValidationError(count + lines.join('; '), { details: { malformed: 'body' } });
}

interface AwsAnswer {
  readonly type: string;
  readonly message: string;
}

function isAwsAnswer(value: unknown): value is AwsAnswer {
  return typeof value === 'object' && value !== null && 'type' in value && 'message' in value;
}

/** `['Filters', 0, 'Key']` → `filters.1.member.key`. */
export function memberPath(path: readonly PropertyKey[]): string {
  return path
    .map((key) =>
      typeof key === 'number' ? `${key + 1}.member` : `${String(key).charAt(0).toLowerCase()}${String(key).slice(1)}`,
    )
    .join('.');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** How AWS names the value in the message: `Value 'x'`, `Value null`, or `Value` alone for a sensitive member. */
function quoted(value: unknown, hidden: boolean): string {
  if (value === undefined || value === null) return 'Value null';
  if (hidden) return 'Value';
  return `Value '${render(value)}'`;
}

/** The value as AWS's (Java) model prints it: lists as `[a, b]`, structures as `{K=v}`. */
function render(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(render).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}=${render(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

function constraint(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return 'Member must not be null';
  if (issue.message.startsWith('Member must')) return issue.message;
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint'
        ? `Member must have value greater than or equal to ${String(issue.minimum)}`
        : `Member must have length greater than or equal to ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint'
        ? `Member must have value less than or equal to ${String(issue.maximum)}`
        : `Member must have length less than or equal to ${String(issue.maximum)}`;
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue && typeof issue.pattern === 'string'
        ? `Member must satisfy regular expression pattern: ${issue.pattern}`
        : `Member must satisfy format: ${issue.format}`;
    default:
      return `Member ${issue.message}`;
  }
}

/**
 * AWS's JSON protocol's words for a value of the wrong JSON type (its `SerializationException`s): a structure or list
 * where none belongs, or a scalar that cannot become the member's type.
 */
function serializationMessage(value: unknown, expected: string): string {
  if (Array.isArray(value)) return 'Start of list found where not expected';
  if (typeof value === 'object' && value !== null) return 'Start of structure or map found where not expected.';
  const kind =
    typeof value === 'number' ? 'NUMBER_VALUE' : typeof value === 'boolean' ? 'BOOLEAN_VALUE' : 'STRING_VALUE';
  const target: Record<string, string> = { string: 'a String', number: 'an Integer', boolean: 'a Boolean' };
  return `${kind} can not be converted to ${target[expected] ?? `a ${expected}`}`;
}
