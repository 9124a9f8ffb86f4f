import type { SecretLintRuleCreator, SecretLintSourceCode } from '@secretlint/types';
import { isPlaceholder } from './placeholders.ts';

/**
 * Connection URLs with a password for the stores the recommended preset does not cover (it covers PostgreSQL, MySQL
 * and MongoDB, and `http(s)`/`ftp` basic auth): Redis, AMQP (RabbitMQ), SQL Server, MariaDB, Oracle, ClickHouse,
 * CockroachDB, CouchDB, Neo4j, NATS and JDBC URLs of those. Redis URLs often have an empty user (`redis://:pw@host`).
 * Placeholders (`${DB_PASSWORD}`, `<password>`, `changeme`, …) are not reported.
 */
export const DATABASE_URL_RULE_ID = 'coffer/database-url';

const DATABASE_URL =
  /(?<![A-Za-z0-9+.-])(?:jdbc:)?(?:rediss?|amqps?|mssql|sqlserver|mariadb|oracle|clickhouse|cockroachdb|couchdbs?|neo4j(?:\+s)?|bolt|nats):\/\/(?<user>[^:@/\s'"]{0,100}):(?<password>[^@/\s'"]{1,200})@(?<host>[^/\s'"?]{1,200})/gi;

const messages = { DatabaseUrl: { en: () => 'found a database connection URL with a password' } };

export const databaseUrlRule: SecretLintRuleCreator = {
  messages,
  meta: { id: DATABASE_URL_RULE_ID, recommended: true, type: 'scanner', supportedContentTypes: ['text'] },
  create(context) {
    const t = context.createTranslator(messages);
    return {
      file(source: SecretLintSourceCode) {
        for (const match of source.content.matchAll(DATABASE_URL)) {
          const { user = '', password = '' } = match.groups ?? {};
          if (password.length < 4 || password === user || isPlaceholder(password)) continue;
          const start = match.index ?? 0;
          context.report({ message: t('DatabaseUrl'), range: [start, start + match[0].length] });
        }
      },
    };
  },
};
