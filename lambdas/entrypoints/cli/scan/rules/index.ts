import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
import type { SecretLintCoreConfig } from '@secretlint/types';
import { COFFER_RULE_ID, cofferRule } from './coffer.ts';
import { databaseUrlRule } from './database-url.ts';
import { ENTROPY_RULE_ID, entropyRule } from './entropy.ts';
import { jwtRule } from './jwt.ts';
import { privateKeyRule } from './private-key.ts';

export { ENTROPY_RULE_ID };

const AWS_RULE_ID = '@secretlint/secretlint-rule-aws';

/**
 * The rules `coffer scan` runs: secretlint's maintained recommended preset (AWS, GCP, private keys, GitHub, GitLab,
 * Slack, Stripe, npm, PostgreSQL/MySQL/MongoDB URLs, basic auth, …) and Coffer's own.
 *
 * The preset's AWS rule looks for access key ids only when asked (`enableIDScanRule`): an id alone grants nothing,
 * but it is the half of a key pair that is easy to spot, and a leaked pair is usually pasted together.
 */
export const SCAN_CONFIG: SecretLintCoreConfig = {
  rules: [
    {
      id: recommended.meta.id,
      rule: recommended,
      rules: [{ id: AWS_RULE_ID, options: { enableIDScanRule: true } }],
    },
    { id: cofferRule.meta.id, rule: cofferRule },
    { id: privateKeyRule.meta.id, rule: privateKeyRule },
    { id: jwtRule.meta.id, rule: jwtRule },
    { id: databaseUrlRule.meta.id, rule: databaseUrlRule },
    { id: entropyRule.meta.id, rule: entropyRule },
  ],
};

/**
 * Findings the scan drops after secretlint reports them: an AWS account id (reported alongside access key ids by the
 * same switch) identifies an account and grants nothing, so it is no secret.
 */
export const DROPPED_MESSAGE_IDS: ReadonlySet<string> = new Set(['AWSAccountID']);

/**
 * Which rule wins when two report overlapping text, lowest first: Coffer's credentials (a Coffer key pair also fits the
 * AWS rule's `secretAccessKey = …`), then the preset's maintained rules, then Coffer's rules that fill the preset's
 * gaps, and last the entropy rule, which only reports what nothing more specific recognised.
 */
export function rulePriority(ruleId: string): number {
  if (ruleId === COFFER_RULE_ID) return 0;
  if (ruleId === ENTROPY_RULE_ID) return 3;
  if (ruleId.startsWith('coffer/')) return 2;
  return 1;
}
